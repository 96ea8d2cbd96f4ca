// Package access decides who may do what to a key: the canonical
// principal built from the Vault identity, key policies in AWS's language
// (evaluated by awspolicy), grants, the condition keys of each operation,
// and the one decision function every authorization goes through. It
// takes what it needs as parameters and small structs, never the backend.
package access

import "github.com/openkms/vault-plugin-kms/keyspec"

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
	keyspec.OpEncrypt:               {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	keyspec.OpDecrypt:               {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	keyspec.OpReEncryptFrom:         {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	keyspec.OpReEncryptTo:           {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt},
	keyspec.OpGenerateDataKey:       {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	keyspec.OpGenerateDataKeyWP:     {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	keyspec.OpGenerateDataKeyPair:   {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	keyspec.OpGenerateDataKeyPairWP: {Context: true, Grantable: true, Usage: keyspec.EncryptDecrypt, SymmetricOnly: true},
	keyspec.OpSign:                  {Grantable: true, Usage: keyspec.SignVerify},
	keyspec.OpVerify:                {Grantable: true, Usage: keyspec.SignVerify},
	keyspec.OpGetPublicKey:          {Grantable: true, AsymmetricOnly: true},
	keyspec.OpGenerateMac:           {Grantable: true, Usage: keyspec.GenerateVerifyMAC},
	keyspec.OpVerifyMac:             {Grantable: true, Usage: keyspec.GenerateVerifyMAC},
	keyspec.OpDeriveSharedSecret:    {Grantable: true, Usage: keyspec.KeyAgreement},
	keyspec.OpEncapsulate:           {Grantable: true, Usage: keyspec.EncapsulateDecapsulate},
	keyspec.OpDecapsulate:           {Grantable: true, Usage: keyspec.EncapsulateDecapsulate},
	keyspec.OpDescribeKey:           {Grantable: true},
	keyspec.OpCreateGrant:           {Grantable: true},
	keyspec.OpRetireGrant:           {Grantable: true},

	keyspec.OpRevokeGrant: {}, keyspec.OpListGrants: {}, keyspec.OpGetKeyPolicy: {}, keyspec.OpPutKeyPolicy: {}, keyspec.OpListKeyPolicies: {},
	keyspec.OpEnableKey: {}, keyspec.OpDisableKey: {}, keyspec.OpScheduleKeyDeletion: {}, keyspec.OpCancelKeyDeletion: {},
	keyspec.OpUpdateKeyDescription: {}, keyspec.OpTagResource: {}, keyspec.OpUntagResource: {}, keyspec.OpListResourceTags: {},
	keyspec.OpEnableKeyRotation: {}, keyspec.OpDisableKeyRotation: {}, keyspec.OpGetKeyRotationStatus: {}, keyspec.OpRotateKeyOnDemand: {},
	keyspec.OpListKeyRotations: {}, keyspec.OpGetParametersForImport: {}, keyspec.OpImportKeyMaterial: {}, keyspec.OpDeleteImportedKeyMaterial: {},
	keyspec.OpGetKeyLastUsage: {},
	// Alias changes are authorized on the keys they touch, as in AWS.
	keyspec.OpCreateAlias: {}, keyspec.OpUpdateAlias: {}, keyspec.OpDeleteAlias: {},
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
