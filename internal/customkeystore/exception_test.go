package customkeystore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

func TestExceptionNamesEachRefusal(t *testing.T) {
	for _, e := range append(exceptions, struct {
		kind error
		name string
	}{ErrInvalid, kmserr.Validation}) {
		err := Exception(refuse(e.kind, "refused"))
		var ke *kmserr.Error
		require.ErrorAs(t, err, &ke, e.name)
		require.Equal(t, e.name, ke.Type)
		require.Equal(t, "refused", ke.Msg)
	}
	other := errors.New("storage failed")
	require.Same(t, other, Exception(other), "not a refusal: returned as it is")
}
