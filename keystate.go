package kms

import (
	"time"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/keyspec"
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

// opInfo is what the plugin knows of an operation on a key.
type opInfo struct {
	// context: the operation takes an encryption context, so policy
	// conditions and grant constraints apply to it.
	context bool
	// grantable: AWS allows the operation in a grant.
	grantable bool
	// usage: the key usage the operation needs ("" for any).
	usage keyspec.KeyUsage
	// symmetricOnly / asymmetricOnly narrow the key types it applies to.
	symmetricOnly, asymmetricOnly bool
}

var operations = map[string]opInfo{
	opEncrypt:               {context: true, grantable: true, usage: keyspec.EncryptDecrypt},
	opDecrypt:               {context: true, grantable: true, usage: keyspec.EncryptDecrypt},
	opReEncryptFrom:         {context: true, grantable: true, usage: keyspec.EncryptDecrypt},
	opReEncryptTo:           {context: true, grantable: true, usage: keyspec.EncryptDecrypt},
	opGenerateDataKey:       {context: true, grantable: true, usage: keyspec.EncryptDecrypt, symmetricOnly: true},
	opGenerateDataKeyWP:     {context: true, grantable: true, usage: keyspec.EncryptDecrypt, symmetricOnly: true},
	opGenerateDataKeyPair:   {context: true, grantable: true, usage: keyspec.EncryptDecrypt, symmetricOnly: true},
	opGenerateDataKeyPairWP: {context: true, grantable: true, usage: keyspec.EncryptDecrypt, symmetricOnly: true},
	opSign:                  {grantable: true, usage: keyspec.SignVerify},
	opVerify:                {grantable: true, usage: keyspec.SignVerify},
	opGetPublicKey:          {grantable: true, asymmetricOnly: true},
	opGenerateMac:           {grantable: true, usage: keyspec.GenerateVerifyMAC},
	opVerifyMac:             {grantable: true, usage: keyspec.GenerateVerifyMAC},
	opDeriveSharedSecret:    {grantable: true, usage: keyspec.KeyAgreement},
	opEncapsulate:           {grantable: true, usage: keyspec.EncapsulateDecapsulate},
	opDecapsulate:           {grantable: true, usage: keyspec.EncapsulateDecapsulate},
	opDescribeKey:           {grantable: true},
	opCreateGrant:           {grantable: true},
	opRetireGrant:           {grantable: true},

	opRevokeGrant: {}, opListGrants: {}, opGetKeyPolicy: {}, opPutKeyPolicy: {}, opListKeyPolicies: {},
	opEnableKey: {}, opDisableKey: {}, opScheduleKeyDeletion: {}, opCancelKeyDeletion: {},
	opUpdateKeyDescription: {}, opTagResource: {}, opUntagResource: {}, opListResourceTags: {},
	opEnableKeyRotation: {}, opDisableKeyRotation: {}, opGetKeyRotationStatus: {}, opRotateKeyOnDemand: {},
	opListKeyRotations: {}, opGetParametersForImport: {}, opImportKeyMaterial: {}, opDeleteImportedKeyMaterial: {},
	opGetKeyLastUsage: {},
	// Alias changes are authorized on the keys they touch, as in AWS.
	opCreateAlias: {}, opUpdateAlias: {}, opDeleteAlias: {},
}

func isOperation(op string) bool {
	_, ok := operations[op]
	return ok
}

// fitsKey reports whether op can ever apply to key e, for grants.
func (o opInfo) fitsKey(e *keyEntry) bool {
	switch {
	case o.usage != "" && o.usage != e.KeyUsage:
		return false
	case o.symmetricOnly && e.Spec().Family != keyspec.FamilySymmetric:
		return false
	case o.asymmetricOnly && e.Spec().Symmetric():
		return false
	}
	return true
}

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
