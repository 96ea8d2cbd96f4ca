package awsvault

import (
	"context"
	"testing"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"
)

func TestEndpoint(t *testing.T) {
	require.Equal(t, "http://127.0.0.1:8200/v1/kms/aws", Endpoint("http://127.0.0.1:8200", "kms"))
	require.Equal(t, "https://vault:8200/v1/team/kms/aws", Endpoint("https://vault:8200/", "/team/kms/"))
}

// The middlewares set the header and path on the request the SDK builds.
func TestMiddlewares(t *testing.T) {
	stack := middleware.NewStack("Encrypt", smithyhttp.NewStackRequest)
	require.NoError(t, Token("s.token")(stack))
	require.NoError(t, OperationInPath(stack))
	var seen *smithyhttp.Request
	handler := middleware.DecorateHandler(middleware.HandlerFunc(func(_ context.Context, in any) (any, middleware.Metadata, error) {
		seen = in.(*smithyhttp.Request)
		return nil, middleware.Metadata{}, nil
	}), stack)
	ctx := middleware.WithOperationName(context.Background(), "Encrypt")
	_, _, err := handler.Handle(ctx, struct{}{})
	require.NoError(t, err)
	require.Equal(t, "s.token", seen.Header.Get("X-Vault-Token"))
	require.Equal(t, "/Encrypt", seen.URL.Path)
}
