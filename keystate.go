package kms

import (
	"time"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// AWS KMS operation names. They name key-state rules here, and later the
// operations that key policies and grants allow.
const (
	opCreateKey            = "CreateKey"
	opDescribeKey          = "DescribeKey"
	opEnableKey            = "EnableKey"
	opDisableKey           = "DisableKey"
	opScheduleKeyDeletion  = "ScheduleKeyDeletion"
	opCancelKeyDeletion    = "CancelKeyDeletion"
	opUpdateKeyDescription = "UpdateKeyDescription"
	opTagResource          = "TagResource"
	opUntagResource        = "UntagResource"
	opListResourceTags     = "ListResourceTags"
	opCreateAlias          = "CreateAlias"
	opUpdateAlias          = "UpdateAlias"
	opDeleteAlias          = "DeleteAlias"
	opListAliases          = "ListAliases"

	opEncrypt               = "Encrypt"
	opDecrypt               = "Decrypt"
	opReEncryptFrom         = "ReEncryptFrom"
	opReEncryptTo           = "ReEncryptTo"
	opSign                  = "Sign"
	opVerify                = "Verify"
	opGetPublicKey          = "GetPublicKey"
	opGenerateMac           = "GenerateMac"
	opVerifyMac             = "VerifyMac"
	opDeriveSharedSecret    = "DeriveSharedSecret"
	opGenerateDataKey       = "GenerateDataKey"
	opGenerateDataKeyWP     = "GenerateDataKeyWithoutPlaintext"
	opGenerateDataKeyPair   = "GenerateDataKeyPair"
	opGenerateDataKeyPairWP = "GenerateDataKeyPairWithoutPlaintext"
	opEncapsulate           = "Encapsulate"
	opDecapsulate           = "Decapsulate"

	opCreateGrant     = "CreateGrant"
	opRetireGrant     = "RetireGrant"
	opRevokeGrant     = "RevokeGrant"
	opListGrants      = "ListGrants"
	opGetKeyPolicy    = "GetKeyPolicy"
	opPutKeyPolicy    = "PutKeyPolicy"
	opListKeyPolicies = "ListKeyPolicies"

	opEnableKeyRotation         = "EnableKeyRotation"
	opDisableKeyRotation        = "DisableKeyRotation"
	opGetKeyRotationStatus      = "GetKeyRotationStatus"
	opRotateKeyOnDemand         = "RotateKeyOnDemand"
	opListKeyRotations          = "ListKeyRotations"
	opGetParametersForImport    = "GetParametersForImport"
	opImportKeyMaterial         = "ImportKeyMaterial"
	opDeleteImportedKeyMaterial = "DeleteImportedKeyMaterial"
	opGetKeyLastUsage           = "GetKeyLastUsage"
)

var (
	anyState    = []string{stateEnabled, stateDisabled, statePendingDeletion, statePendingImport}
	notDeleting = []string{stateEnabled, stateDisabled, statePendingImport}
)

// stateRules says, for each management operation, in which key states AWS
// allows it (AWS's "Key states of AWS KMS keys" table). Any operation not
// listed is a cryptographic operation and needs an Enabled key.
var stateRules = map[string][]string{
	opDescribeKey:               anyState,
	opListResourceTags:          anyState,
	opListAliases:               anyState,
	opDeleteAlias:               anyState,
	opEnableKey:                 {stateEnabled, stateDisabled},
	opDisableKey:                {stateEnabled, stateDisabled},
	opScheduleKeyDeletion:       notDeleting,
	opCancelKeyDeletion:         {statePendingDeletion},
	opUpdateKeyDescription:      notDeleting,
	opTagResource:               notDeleting,
	opUntagResource:             notDeleting,
	opCreateAlias:               notDeleting,
	opUpdateAlias:               notDeleting,
	opCreateGrant:               {stateEnabled, stateDisabled, statePendingImport},
	opListGrants:                anyState,
	opRetireGrant:               anyState,
	opRevokeGrant:               anyState,
	opGetKeyPolicy:              anyState,
	opPutKeyPolicy:              anyState,
	opListKeyPolicies:           anyState,
	opGetKeyRotationStatus:      anyState,
	opListKeyRotations:          anyState,
	opGetParametersForImport:    {statePendingImport, stateEnabled, stateDisabled},
	opImportKeyMaterial:         {statePendingImport, stateEnabled, stateDisabled},
	opDeleteImportedKeyMaterial: {statePendingImport, stateEnabled, stateDisabled},
	opGetKeyLastUsage:           anyState,
}

// checkState refuses an operation the key's state does not allow, with the
// exception AWS uses: DisabledException for a cryptographic operation on a
// disabled key, KMSInvalidStateException otherwise.
func checkState(e *keyEntry, op string) error {
	allowed, managed := stateRules[op]
	if !managed {
		switch e.State {
		case stateEnabled:
			return nil
		case stateDisabled:
			return kmserr.New(kmserr.Disabled, "key '%s' is disabled", e.KeyID)
		}
		return kmserr.InvalidStatef("key '%s' is %s; %s needs an Enabled key", e.KeyID, e.State, op)
	}
	for _, s := range allowed {
		if s == e.State {
			return nil
		}
	}
	return kmserr.InvalidStatef("%s is not allowed on key '%s' in state %s", op, e.KeyID, e.State)
}

// checkStateAt is checkState at time now. Imported key material whose
// valid_to has passed is gone for every cryptographic operation from that
// instant, as in AWS, even before the periodic sweep deletes it (the sweep
// only cleans up).
func checkStateAt(e *keyEntry, op string, now time.Time) error {
	if err := checkState(e, op); err != nil {
		return err
	}
	_, managed := stateRules[op]
	if !managed && e.ExpirationModel == expirationExpires && !now.Before(e.ValidTo) {
		return kmserr.InvalidStatef("the imported key material of key '%s' expired at %s; %s needs key material",
			e.KeyID, e.ValidTo.UTC().Format(time.RFC3339), op)
	}
	return nil
}
