package kmserr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

func TestStatusFor(t *testing.T) {
	for exc, want := range map[string]int{
		NotFound: http.StatusNotFound, AccessDenied: http.StatusForbidden,
		DryRunOperation: http.StatusPreconditionFailed, Internal: http.StatusInternalServerError,
		Validation: http.StatusBadRequest, CustomKeyStoreHasCMKs: http.StatusBadRequest,
	} {
		require.Equal(t, want, StatusFor(exc), exc)
		require.Equal(t, want, New(exc, "m").Code(), exc)
	}
}

// A client's error keeps or gets its exception; anything else is a server
// fault (nil), which the root answers 500.
func TestClassify(t *testing.T) {
	ke := New(Disabled, "key is disabled")
	require.Same(t, ke, Classify(fmt.Errorf("wrapped: %w", ke)))
	require.Nil(t, Classify(ServerFault(errors.New("disk full"))))
	require.Nil(t, Classify(errors.New("raft: not the leader")))
	require.Equal(t, Validation, Classify(logical.ErrRelativePath).Type)
	require.Equal(t, Validation, Classify(errors.New("rpc error: "+logical.ErrInvalidRequest.Error())).Type, "recognised by message across gRPC")
	require.Equal(t, NotFound, Classify(logical.CodedError(http.StatusNotFound, "gone")).Type)
	require.Equal(t, AccessDenied, Classify(logical.CodedError(http.StatusForbidden, "no")).Type)
	require.Nil(t, Classify(logical.CodedError(http.StatusBadGateway, "upstream")))
}

func TestServerFaultKeepsCause(t *testing.T) {
	cause := errors.New("no space left on device")
	sf := ServerFault(cause)
	require.Equal(t, http.StatusInternalServerError, sf.Code())
	require.ErrorIs(t, sf, cause)
	require.Same(t, sf, ServerFault(fmt.Errorf("again: %w", sf)), "a fault is not wrapped twice")
}
