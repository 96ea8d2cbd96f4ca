package customkeystore

import (
	"errors"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// exceptions name the AWS exception of each kind of registry refusal.
var exceptions = []struct {
	kind error
	name string
}{
	{ErrNotFound, kmserr.CustomKeyStoreNotFound},
	{ErrNameInUse, kmserr.CustomKeyStoreNameInUse},
	{ErrInvalidState, kmserr.CustomKeyStoreInvalidState},
	{ErrHasKeys, kmserr.CustomKeyStoreHasCMKs},
	{ErrConnectionInUse, kmserr.CloudHsmClusterInUse},
	{ErrLimit, kmserr.LimitExceeded},
}

// Exception names the AWS exception of a registry refusal (a
// ValidationException for a kind without one of its own); any other error
// is returned as it is.
func Exception(err error) error {
	var ce *Error
	if !errors.As(err, &ce) {
		return err
	}
	exc := kmserr.Validation
	for _, e := range exceptions {
		if errors.Is(err, e.kind) {
			exc = e.name
			break
		}
	}
	return kmserr.New(exc, "%s", ce.Msg)
}
