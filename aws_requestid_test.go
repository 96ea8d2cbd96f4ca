package kms

import (
	"context"
	"net/http"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// Every kms/aws response names its Vault request id in x-amzn-RequestId,
// where AWS clients look for AWS's: a success, a refusal, an unknown
// operation and a dry run alike.
func TestAWSResponsesCarryTheRequestID(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	for name, c := range map[string]struct {
		target string
		body   map[string]any
		status int
	}{
		"success":           {"TrentService.Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x")}, http.StatusOK},
		"refusal":           {"TrentService.DescribeKey", map[string]any{"KeyId": "alias/missing"}, http.StatusBadRequest},
		"unknown operation": {"TrentService.Nope", map[string]any{}, http.StatusBadRequest},
		"dry run":           {"TrentService.Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true}, http.StatusPreconditionFailed},
	} {
		req := &logical.Request{ID: "req-" + name, Operation: logical.UpdateOperation, Path: "aws", Storage: tb.storage,
			Data: c.body, Headers: map[string][]string{"X-Amz-Target": {c.target}}}
		resp, err := tb.HandleRequest(context.Background(), req)
		require.NoError(t, err, name)
		require.Equal(t, c.status, resp.Data[logical.HTTPStatusCode], name)
		require.Equal(t, map[string][]string{"x-amzn-RequestId": {"req-" + name}}, resp.Headers, name)
	}
}
