package keyspec

// AWS KMS operation names, as key policies, grants, key-state rules and the
// AWS endpoint name them. ReEncrypt is two operations on its two keys
// (ReEncryptFrom on the source, ReEncryptTo on the destination), as in
// AWS's policy actions.
const (
	OpCreateKey            = "CreateKey"
	OpDescribeKey          = "DescribeKey"
	OpEnableKey            = "EnableKey"
	OpDisableKey           = "DisableKey"
	OpScheduleKeyDeletion  = "ScheduleKeyDeletion"
	OpCancelKeyDeletion    = "CancelKeyDeletion"
	OpUpdateKeyDescription = "UpdateKeyDescription"
	OpTagResource          = "TagResource"
	OpUntagResource        = "UntagResource"
	OpListResourceTags     = "ListResourceTags"
	OpCreateAlias          = "CreateAlias"
	OpUpdateAlias          = "UpdateAlias"
	OpDeleteAlias          = "DeleteAlias"
	OpListAliases          = "ListAliases"

	OpEncrypt               = "Encrypt"
	OpDecrypt               = "Decrypt"
	OpReEncryptFrom         = "ReEncryptFrom"
	OpReEncryptTo           = "ReEncryptTo"
	OpSign                  = "Sign"
	OpVerify                = "Verify"
	OpGetPublicKey          = "GetPublicKey"
	OpGenerateMac           = "GenerateMac"
	OpVerifyMac             = "VerifyMac"
	OpDeriveSharedSecret    = "DeriveSharedSecret"
	OpGenerateDataKey       = "GenerateDataKey"
	OpGenerateDataKeyWP     = "GenerateDataKeyWithoutPlaintext"
	OpGenerateDataKeyPair   = "GenerateDataKeyPair"
	OpGenerateDataKeyPairWP = "GenerateDataKeyPairWithoutPlaintext"
	OpEncapsulate           = "Encapsulate"
	OpDecapsulate           = "Decapsulate"

	OpCreateGrant     = "CreateGrant"
	OpRetireGrant     = "RetireGrant"
	OpRevokeGrant     = "RevokeGrant"
	OpListGrants      = "ListGrants"
	OpGetKeyPolicy    = "GetKeyPolicy"
	OpPutKeyPolicy    = "PutKeyPolicy"
	OpListKeyPolicies = "ListKeyPolicies"

	OpEnableKeyRotation         = "EnableKeyRotation"
	OpDisableKeyRotation        = "DisableKeyRotation"
	OpGetKeyRotationStatus      = "GetKeyRotationStatus"
	OpRotateKeyOnDemand         = "RotateKeyOnDemand"
	OpListKeyRotations          = "ListKeyRotations"
	OpGetParametersForImport    = "GetParametersForImport"
	OpImportKeyMaterial         = "ImportKeyMaterial"
	OpDeleteImportedKeyMaterial = "DeleteImportedKeyMaterial"
	OpGetKeyLastUsage           = "GetKeyLastUsage"
)
