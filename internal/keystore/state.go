package keystore

import (
	"time"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
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

var (
	anyState    = []string{StateEnabled, StateDisabled, StatePendingDeletion, StatePendingImport}
	notDeleting = []string{StateEnabled, StateDisabled, StatePendingImport}
)

// stateRules says, for each management operation, in which key states AWS
// allows it (AWS's "Key states of AWS KMS keys" table). Any operation not
// listed is a cryptographic operation and needs an Enabled key.
var stateRules = map[string][]string{
	keyspec.OpDescribeKey:               anyState,
	keyspec.OpListResourceTags:          anyState,
	keyspec.OpListAliases:               anyState,
	keyspec.OpDeleteAlias:               anyState,
	keyspec.OpEnableKey:                 {StateEnabled, StateDisabled},
	keyspec.OpDisableKey:                {StateEnabled, StateDisabled},
	keyspec.OpScheduleKeyDeletion:       notDeleting,
	keyspec.OpCancelKeyDeletion:         {StatePendingDeletion},
	keyspec.OpUpdateKeyDescription:      notDeleting,
	keyspec.OpTagResource:               notDeleting,
	keyspec.OpUntagResource:             notDeleting,
	keyspec.OpCreateAlias:               notDeleting,
	keyspec.OpUpdateAlias:               notDeleting,
	keyspec.OpCreateGrant:               {StateEnabled, StateDisabled, StatePendingImport},
	keyspec.OpListGrants:                anyState,
	keyspec.OpRetireGrant:               anyState,
	keyspec.OpRevokeGrant:               anyState,
	keyspec.OpGetKeyPolicy:              anyState,
	keyspec.OpPutKeyPolicy:              anyState,
	keyspec.OpListKeyPolicies:           anyState,
	keyspec.OpGetKeyRotationStatus:      anyState,
	keyspec.OpListKeyRotations:          anyState,
	keyspec.OpGetParametersForImport:    {StatePendingImport, StateEnabled, StateDisabled},
	keyspec.OpImportKeyMaterial:         {StatePendingImport, StateEnabled, StateDisabled},
	keyspec.OpDeleteImportedKeyMaterial: {StatePendingImport, StateEnabled, StateDisabled},
	keyspec.OpGetKeyLastUsage:           anyState,
}

// IsCryptographic reports an operation that needs an Enabled key: every
// operation the key-state table does not list.
func IsCryptographic(op string) bool { return stateRules[op] == nil }

// CheckState refuses an operation the key's state does not allow, by AWS's
// key-state table. The exception is AWS's: DisabledException for a
// cryptographic operation on a disabled key, KMSInvalidStateException
// otherwise.
func CheckState(k *Key, op string) error { return checkAllowed(k, op, stateRules[op]) }

// checkAllowed is CheckState with the allowed states given: nil means a
// cryptographic operation, which needs an Enabled key.
func checkAllowed(k *Key, op string, allowed []string) error {
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
func CheckStateAt(k *Key, op string, now time.Time) error {
	if err := CheckState(k, op); err != nil {
		return err
	}
	if IsCryptographic(op) && k.ExpirationModel == ExpirationExpires && !now.Before(k.ValidTo) {
		return kmserr.InvalidStatef("the imported key material of key '%s' expired at %s; %s needs key material",
			k.KeyID, k.ValidTo.UTC().Format(time.RFC3339), op)
	}
	return nil
}
