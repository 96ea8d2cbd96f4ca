package keystore

import (
	"time"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Key states, as AWS names them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	StatePendingImport   = "PendingImport"
	// StateUnavailable is reported, never stored: a key whose custom key
	// store is not connected.
	StateUnavailable = "Unavailable"
)

// CheckState refuses an operation the key's state does not allow. allowed
// lists the states a management operation is allowed in; nil means a
// cryptographic operation, which needs an Enabled key. The exception is
// AWS's: DisabledException for a cryptographic operation on a disabled
// key, KMSInvalidStateException otherwise.
func CheckState(k *Key, op string, allowed []string) error {
	if allowed == nil {
		switch k.State {
		case StateEnabled:
			return nil
		case StateDisabled:
			return kmserr.New(kmserr.Disabled, "key '%s' is disabled", k.KeyID)
		}
		return kmserr.InvalidStatef("key '%s' is %s; %s needs an Enabled key", k.KeyID, k.State, op)
	}
	for _, s := range allowed {
		if s == k.State {
			return nil
		}
	}
	return kmserr.InvalidStatef("%s is not allowed on key '%s' in state %s", op, k.KeyID, k.State)
}

// CheckStateAt is CheckState at time now. Imported key material whose
// valid_to has passed is gone for every cryptographic operation from that
// instant, as in AWS, even before the periodic sweep deletes it (the sweep
// only cleans up).
func CheckStateAt(k *Key, op string, allowed []string, now time.Time) error {
	if err := CheckState(k, op, allowed); err != nil {
		return err
	}
	if allowed == nil && k.ExpirationModel == ExpirationExpires && !now.Before(k.ValidTo) {
		return kmserr.InvalidStatef("the imported key material of key '%s' expired at %s; %s needs key material",
			k.KeyID, k.ValidTo.UTC().Format(time.RFC3339), op)
	}
	return nil
}
