package kms

import (
	"time"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
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

// checkState refuses an operation the key's state does not allow (see
// keystore.CheckState).
func checkState(e *keyEntry, op string) error {
	return keystore.CheckState(e, op, stateRules[op])
}

// checkStateAt is checkState at time now (see keystore.CheckStateAt).
func checkStateAt(e *keyEntry, op string, now time.Time) error {
	return keystore.CheckStateAt(e, op, stateRules[op], now)
}
