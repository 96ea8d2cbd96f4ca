// Package access decides who may do what to a key: the canonical
// principal built from the Vault identity, key policies in AWS's language
// (evaluated by awspolicy), grants, the condition keys of each operation,
// and the one decision function every authorization goes through. It
// takes what it needs as parameters and small structs, never the backend.
package access

import "github.com/openkms/vault-plugin-kms/keyspec"

// Operation names access itself tells apart.
const (
	opCreateGrant           = "CreateGrant"
	opListGrants            = "ListGrants"
	opRevokeGrant           = "RevokeGrant"
	opRetireGrant           = "RetireGrant"
	opReEncryptFrom         = "ReEncryptFrom"
	opReEncryptTo           = "ReEncryptTo"
	opGenerateDataKey       = "GenerateDataKey"
	opGenerateDataKeyWP     = "GenerateDataKeyWithoutPlaintext"
	opGenerateDataKeyPair   = "GenerateDataKeyPair"
	opGenerateDataKeyPairWP = "GenerateDataKeyPairWithoutPlaintext"
)

// OpInfo is what the plugin knows of an operation on a key.
type OpInfo struct {
	// Context: the operation takes an encryption context, so policy
	// conditions and grant constraints apply to it.
	Context bool
	// Grantable: AWS allows the operation in a grant.
	Grantable bool
	// Usage: the key usage the operation needs ("" for any).
	Usage keyspec.KeyUsage
	// SymmetricOnly / AsymmetricOnly narrow the key types it applies to.
	SymmetricOnly, AsymmetricOnly bool
}

// Operations is every AWS KMS operation on a key the plugin authorizes.
var Operations = map[string]OpInfo{
	"Encrypt":               {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	"Decrypt":               {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	opReEncryptFrom:         {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	opReEncryptTo:           {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	opGenerateDataKey:       {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	opGenerateDataKeyWP:     {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	opGenerateDataKeyPair:   {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	opGenerateDataKeyPairWP: {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	"Sign":                  {Grantable: true, Usage: keyspec.SignVerify},
	"Verify":                {Grantable: true, Usage: keyspec.SignVerify},
	"GetPublicKey":          {Grantable: true, AsymmetricOnly: true},
	"GenerateMac":           {Grantable: true, Usage: keyspec.GenerateVerifyMAC},
	"VerifyMac":             {Grantable: true, Usage: keyspec.GenerateVerifyMAC},
	"DeriveSharedSecret":    {Grantable: true, Usage: keyspec.KeyAgreement},
	"Encapsulate":           {Grantable: true, Usage: keyspec.EncapsulateDecapsulate},
	"Decapsulate":           {Grantable: true, Usage: keyspec.EncapsulateDecapsulate},
	"DescribeKey":           {Grantable: true},
	opCreateGrant:           {Grantable: true},
	opRetireGrant:           {Grantable: true},

	opRevokeGrant: {}, opListGrants: {}, "GetKeyPolicy": {}, "PutKeyPolicy": {}, "ListKeyPolicies": {},
	"EnableKey": {}, "DisableKey": {}, "ScheduleKeyDeletion": {}, "CancelKeyDeletion": {},
	"UpdateKeyDescription": {}, "TagResource": {}, "UntagResource": {}, "ListResourceTags": {},
	"EnableKeyRotation": {}, "DisableKeyRotation": {}, "GetKeyRotationStatus": {}, "RotateKeyOnDemand": {},
	"ListKeyRotations": {}, "GetParametersForImport": {}, "ImportKeyMaterial": {}, "DeleteImportedKeyMaterial": {},
	"GetKeyLastUsage": {},
	// Alias changes are authorized on the keys they touch, as in AWS.
	"CreateAlias": {}, "UpdateAlias": {}, "DeleteAlias": {},
}

// IsOperation reports whether op is in the operation table.
func IsOperation(op string) bool {
	_, ok := Operations[op]
	return ok
}

// FitsKey reports whether the operation can ever apply to a key of this
// usage and spec, for grants.
func (o OpInfo) FitsKey(usage keyspec.KeyUsage, spec *keyspec.Spec) bool {
	switch {
	case o.Usage != "" && o.Usage != usage:
		return false
	case o.SymmetricOnly && spec.Family != keyspec.FamilySymmetric:
		return false
	case o.AsymmetricOnly && spec.Symmetric():
		return false
	}
	return true
}

// HasOperation reports whether a grant's operation list allows op.
func HasOperation(list []string, op string) bool {
	for _, o := range list {
		if o == op || o == "*" {
			return true
		}
	}
	return false
}
