package keystore

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

func requireExc(t *testing.T, err error, exc string) {
	t.Helper()
	var ke *kmserr.Error
	require.True(t, errors.As(err, &ke), "want %s, got %v", exc, err)
	require.Equal(t, exc, ke.Type)
}

// A cryptographic operation (no allowed states) needs an Enabled key, with
// AWS's DisabledException for a disabled one; a management operation is
// allowed in the states it lists.
func TestCheckState(t *testing.T) {
	k := &Key{KeyID: "k", State: StateEnabled}
	require.NoError(t, CheckState(k, "Encrypt"))
	k.State = StateDisabled
	requireExc(t, CheckState(k, "Encrypt"), kmserr.Disabled)
	k.State = StatePendingImport
	requireExc(t, CheckState(k, "Encrypt"), kmserr.InvalidState)

	allowed := []string{StateEnabled, StateDisabled}
	k.State = StateDisabled
	require.NoError(t, checkAllowed(k, "EnableKey", allowed))
	k.State = StatePendingDeletion
	requireExc(t, checkAllowed(k, "EnableKey", allowed), kmserr.InvalidState)
}

// Expired imported material refuses cryptographic operations from its
// valid_to on, before the sweep; management operations are unaffected.
func TestCheckStateAtExpiry(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k := &Key{KeyID: "k", State: StateEnabled, ExpirationModel: ExpirationExpires, ValidTo: at}
	require.NoError(t, CheckStateAt(k, "Encrypt", at.Add(-time.Second)))
	requireExc(t, CheckStateAt(k, "Encrypt", at), kmserr.InvalidState)
	require.NoError(t, CheckStateAt(k, "DescribeKey", at))
}
