package awspolicy

import "strings"

// awsKMSActions is every action AWS KMS defines (the Service Authorization
// Reference, "Actions defined by AWS Key Management Service", and its
// permission-only actions), so that a policy written for AWS is accepted
// whole. An action of this list that the plugin does not implement is
// valid and matches nothing, since no request of the plugin names it.
var awsKMSActions = NewActions(
	"CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore",
	"CreateGrant", "CreateKey", "Decapsulate", "Decrypt", "DeleteAlias", "DeleteCustomKeyStore",
	"DeleteImportedKeyMaterial", "DeriveSharedSecret", "DescribeCustomKeyStores", "DescribeKey",
	"DisableKey", "DisableKeyRotation", "DisconnectCustomKeyStore", "EnableKey",
	"EnableKeyRotation", "Encapsulate", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac",
	"GenerateRandom", "GetKeyLastUsage", "GetKeyPolicy", "GetKeyRotationStatus",
	"GetParametersForImport", "GetPublicKey", "ImportKeyMaterial", "ListAliases", "ListGrants",
	"ListKeyPolicies", "ListKeyRotations", "ListKeys", "ListResourceTags", "ListRetirableGrants",
	"PutKeyPolicy", "ReEncryptFrom", "ReEncryptTo", "ReplicateKey", "RetireGrant", "RevokeGrant",
	"RotateKeyOnDemand", "ScheduleKeyDeletion", "Sign", "SynchronizeMultiRegionKey",
	"TagResource", "UntagResource", "UpdateAlias", "UpdateCustomKeyStore",
	"UpdateKeyDescription", "UpdatePrimaryRegion", "Verify", "VerifyMac",
)

// IsAWSAction reports whether name (without "kms:") is an action AWS KMS
// defines; case is ignored, as in a policy.
func IsAWSAction(name string) bool {
	return awsKMSActions[strings.ToLower(name)]
}
