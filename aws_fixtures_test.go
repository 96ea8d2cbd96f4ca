package kms

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

// walk holds what the fixtures share.
type walk struct {
	t   *testing.T
	tb  *testBackend
	n   int
	hsm *hsmEnv // SoftHSM tokens for the custom key store operations
	// keyStore is a connected store for CreateKey, made on first use.
	keyStore string
}

// connectedStore is a connected custom key store to create keys in.
func (w *walk) connectedStore() string {
	if w.keyStore == "" {
		w.keyStore = w.hsm.connected(w.tb)
	}
	return w.keyStore
}

func (w *walk) unique(prefix string) string { w.n++; return fmt.Sprintf("%s%d", prefix, w.n) }

func (w *walk) key(spec, usage string) string {
	return w.tb.createKey(map[string]any{"key_spec": spec, "key_usage": usage})
}

func (w *walk) sym() string { return w.tb.createKey(nil) }

// grant creates a grant for bob on key and returns its id and token.
func (w *walk) grant(key string) (string, string) {
	g := w.tb.ok(logical.UpdateOperation, "keys/"+key+"/grants", map[string]any{"grantee_principal": "entity:bob",
		"retiring_principal": "entity:alice", "operations": "DescribeKey"})
	return g["grant_id"].(string), g["grant_token"].(string)
}

func (w *walk) tokens(key string) []string { _, t := w.grant(key); return []string{t} }

func (w *walk) encrypt(key string, ec map[string]string) []byte {
	ecAny := map[string]any{}
	for k, v := range ec {
		ecAny[k] = v
	}
	out := w.tb.ok(logical.UpdateOperation, "encrypt/"+key, map[string]any{"plaintext": b64s("walk"), "encryption_context": ecAny})
	return unb64(w.t, out["ciphertext_blob"])
}

func (w *walk) external() string { return w.tb.createKey(map[string]any{"origin": "EXTERNAL"}) }

func (w *walk) policy() string {
	return policyDoc(w.t, map[string]any{"Sid": "all", "Effect": "Allow", "Principal": principals("*"), "Action": actions("*")})
}

var ec1 = map[string]string{"walk": "1"}

// fixtures are complete, valid requests of each implemented operation.
// Each call builds fresh keys, so an operation that changes a key's state
// can run again.
var fixtures = map[string]func(w *walk) []any{
	"CancelKeyDeletion": func(w *walk) []any {
		id := w.sym()
		w.tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", nil)
		return []any{&awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}}
	},
	"CreateAlias": func(w *walk) []any {
		return []any{&awskms.CreateAliasInput{AliasName: aws.String(w.unique("alias/walk")), TargetKeyId: aws.String(w.sym())}}
	},
	"CreateGrant": func(w *walk) []any {
		id := w.sym()
		in := func(c types.GrantConstraints) any {
			return &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String("entity:bob"), Operations: []types.GrantOperation{"Encrypt"},
				RetiringPrincipal: aws.String("entity:alice"), Name: aws.String(w.unique("g")), GrantTokens: w.tokens(id), Constraints: &c}
		}
		return []any{in(types.GrantConstraints{EncryptionContextSubset: ec1}), in(types.GrantConstraints{EncryptionContextEquals: ec1})}
	},
	"CreateKey": func(w *walk) []any {
		return []any{
			&awskms.CreateKeyInput{Description: aws.String("walk"), KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
				Origin: types.OriginTypeAwsKms, Policy: aws.String(w.policy()), BypassPolicyLockoutSafetyCheck: true, MultiRegion: aws.Bool(false),
				Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}},
			&awskms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpecSymmetricDefault},
			&awskms.CreateKeyInput{CustomKeyStoreId: aws.String(w.connectedStore()), Origin: types.OriginTypeAwsCloudhsm},
		}
	},
	"Decrypt": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: w.encrypt(id, ec1), EncryptionContext: ec1,
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault, GrantTokens: w.tokens(id)}}
	},
	"DeleteAlias": func(w *walk) []any {
		name := w.unique("alias/walk")
		w.tb.ok(logical.CreateOperation, "aliases/"+name, map[string]any{"target_key_id": w.sym()})
		return []any{&awskms.DeleteAliasInput{AliasName: aws.String(name)}}
	},
	"DeleteImportedKeyMaterial": func(w *walk) []any {
		id := w.external()
		resp, err := w.tb.importMaterial(id, keyspec.WrapRSAESOAEPSHA256, make([]byte, 32), nil)
		require.NoError(w.t, err)
		return []any{&awskms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(resp.Data["key_material_id"].(string))}}
	},
	"DeriveSharedSecret": func(w *walk) []any {
		id := w.key("ECC_NIST_P256", "KEY_AGREEMENT")
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(w.t, err)
		der, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
		require.NoError(w.t, err)
		return []any{&awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
			PublicKey: der, GrantTokens: w.tokens(id)}}
	},
	"DescribeKey": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.DescribeKeyInput{KeyId: aws.String(id), GrantTokens: w.tokens(id)}}
	},
	"DisableKey":         func(w *walk) []any { return []any{&awskms.DisableKeyInput{KeyId: aws.String(w.sym())}} },
	"EnableKey":          func(w *walk) []any { return []any{&awskms.EnableKeyInput{KeyId: aws.String(w.sym())}} },
	"DisableKeyRotation": func(w *walk) []any { return []any{&awskms.DisableKeyRotationInput{KeyId: aws.String(w.sym())}} },
	"EnableKeyRotation": func(w *walk) []any {
		return []any{&awskms.EnableKeyRotationInput{KeyId: aws.String(w.sym()), RotationPeriodInDays: aws.Int32(90)}}
	},
	"Encapsulate": func(w *walk) []any {
		id := w.key("ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
		return []any{&awskms.EncapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
			GrantTokens: w.tokens(id)}}
	},
	"Decapsulate": func(w *walk) []any {
		id := w.key("ML_KEM_512", "ENCAPSULATE_DECAPSULATE")
		ct := w.tb.ok(logical.UpdateOperation, "encapsulate/"+id, nil)["shared_secret_ciphertext_blob"]
		return []any{&awskms.DecapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
			SharedSecretCiphertextBlob: unb64(w.t, ct), GrantTokens: w.tokens(id)}}
	},
	"Encrypt": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("walk"), EncryptionContext: ec1,
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault, GrantTokens: w.tokens(id)}}
	},
	"GenerateDataKey": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec1, GrantTokens: w.tokens(id)},
			&awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(16)}}
	},
	"GenerateDataKeyWithoutPlaintext": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes128, EncryptionContext: ec1,
			GrantTokens: w.tokens(id)}, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(16)}}
	},
	"GenerateDataKeyPair": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256, EncryptionContext: ec1,
			GrantTokens: w.tokens(id)}}
	},
	"GenerateDataKeyPairWithoutPlaintext": func(w *walk) []any {
		id := w.sym()
		return []any{&awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256,
			EncryptionContext: ec1, GrantTokens: w.tokens(id)}}
	},
	"GenerateMac": func(w *walk) []any {
		id := w.key("HMAC_256", "GENERATE_VERIFY_MAC")
		return []any{&awskms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m"),
			GrantTokens: w.tokens(id)}}
	},
	"GenerateRandom":  func(w *walk) []any { return []any{&awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)}} },
	"GetKeyLastUsage": func(w *walk) []any { return []any{&awskms.GetKeyLastUsageInput{KeyId: aws.String(w.sym())}} },
	"GetKeyPolicy": func(w *walk) []any {
		return []any{&awskms.GetKeyPolicyInput{KeyId: aws.String(w.sym()), PolicyName: aws.String("default")}}
	},
	"GetKeyRotationStatus": func(w *walk) []any {
		return []any{&awskms.GetKeyRotationStatusInput{KeyId: aws.String(w.sym())}}
	},
	"GetParametersForImport": func(w *walk) []any {
		return []any{&awskms.GetParametersForImportInput{KeyId: aws.String(w.external()), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256,
			WrappingKeySpec: types.WrappingKeySpecRsa2048}}
	},
	"GetPublicKey": func(w *walk) []any {
		id := w.key("ECC_NIST_P256", "SIGN_VERIFY")
		return []any{&awskms.GetPublicKeyInput{KeyId: aws.String(id), GrantTokens: w.tokens(id)}}
	},
	"ImportKeyMaterial": func(w *walk) []any {
		// The material is imported once (NEW), then again naming its id.
		id := w.external()
		resp, err := w.tb.importMaterial(id, keyspec.WrapRSAESOAEPSHA256, make([]byte, 32), map[string]any{"import_type": "NEW_KEY_MATERIAL"})
		require.NoError(w.t, err)
		pub, tok := w.tb.importParams(id, keyspec.WrapRSAESOAEPSHA256)
		wrapped, err := keyspec.WrapKeyMaterial(pub, keyspec.WrapRSAESOAEPSHA256, make([]byte, 32), rand.Reader)
		require.NoError(w.t, err)
		return []any{&awskms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: []byte(tok), EncryptedKeyMaterial: wrapped,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(w.tb.clock.Add(48 * time.Hour)),
			ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(resp.Data["key_material_id"].(string)),
			KeyMaterialDescription: aws.String("walk")}}
	},
	"ListAliases": func(w *walk) []any {
		return []any{&awskms.ListAliasesInput{KeyId: aws.String(w.sym()), Limit: aws.Int32(5), Marker: aws.String("alias/a")}}
	},
	"ListGrants": func(w *walk) []any {
		id := w.sym()
		g, _ := w.grant(id)
		return []any{&awskms.ListGrantsInput{KeyId: aws.String(id), GrantId: aws.String(g), GranteePrincipal: aws.String("entity:bob"),
			Limit: aws.Int32(5), Marker: aws.String("0")}}
	},
	"ListKeyPolicies": func(w *walk) []any {
		return []any{&awskms.ListKeyPoliciesInput{KeyId: aws.String(w.sym()), Limit: aws.Int32(5), Marker: aws.String("a")}}
	},
	"ListKeyRotations": func(w *walk) []any {
		return []any{&awskms.ListKeyRotationsInput{KeyId: aws.String(w.sym()), Limit: aws.Int32(5), Marker: aws.String("a"),
			IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial}}
	},
	"ListKeys": func(w *walk) []any { return []any{&awskms.ListKeysInput{Limit: aws.Int32(5), Marker: aws.String("a")}} },
	"ListResourceTags": func(w *walk) []any {
		return []any{&awskms.ListResourceTagsInput{KeyId: aws.String(w.sym()), Limit: aws.Int32(5), Marker: aws.String("a")}}
	},
	"ListRetirableGrants": func(w *walk) []any {
		return []any{&awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String("entity:alice"), Limit: aws.Int32(5), Marker: aws.String("0")}}
	},
	"PutKeyPolicy": func(w *walk) []any {
		return []any{&awskms.PutKeyPolicyInput{KeyId: aws.String(w.sym()), Policy: aws.String(w.policy()), PolicyName: aws.String("default"),
			BypassPolicyLockoutSafetyCheck: true}}
	},
	"ReEncrypt": func(w *walk) []any {
		src, dst := w.sym(), w.sym()
		return []any{&awskms.ReEncryptInput{CiphertextBlob: w.encrypt(src, ec1), SourceKeyId: aws.String(src), SourceEncryptionContext: ec1,
			SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault, DestinationKeyId: aws.String(dst),
			DestinationEncryptionContext: map[string]string{"walk": "2"}, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
			GrantTokens: w.tokens(dst)}}
	},
	"RetireGrant": func(w *walk) []any {
		id := w.sym()
		_, tok := w.grant(id)
		g, _ := w.grant(id)
		return []any{&awskms.RetireGrantInput{GrantToken: aws.String(tok)}, &awskms.RetireGrantInput{KeyId: aws.String(id), GrantId: aws.String(g)}}
	},
	"RevokeGrant": func(w *walk) []any {
		id := w.sym()
		g, _ := w.grant(id)
		return []any{&awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: aws.String(g)}}
	},
	"RotateKeyOnDemand": func(w *walk) []any { return []any{&awskms.RotateKeyOnDemandInput{KeyId: aws.String(w.sym())}} },
	"ScheduleKeyDeletion": func(w *walk) []any {
		return []any{&awskms.ScheduleKeyDeletionInput{KeyId: aws.String(w.sym()), PendingWindowInDays: aws.Int32(7)}}
	},
	"Sign": func(w *walk) []any {
		id := w.key("ECC_NIST_P256", "SIGN_VERIFY")
		return []any{&awskms.SignInput{KeyId: aws.String(id), Message: []byte("m"), MessageType: types.MessageTypeRaw,
			SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, GrantTokens: w.tokens(id)}}
	},
	"TagResource": func(w *walk) []any {
		return []any{&awskms.TagResourceInput{KeyId: aws.String(w.sym()), Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}}}
	},
	"UntagResource": func(w *walk) []any {
		return []any{&awskms.UntagResourceInput{KeyId: aws.String(w.sym()), TagKeys: []string{"k"}}}
	},
	"UpdateAlias": func(w *walk) []any {
		name := w.unique("alias/walk")
		w.tb.ok(logical.CreateOperation, "aliases/"+name, map[string]any{"target_key_id": w.sym()})
		return []any{&awskms.UpdateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(w.sym())}}
	},
	"UpdateKeyDescription": func(w *walk) []any {
		return []any{&awskms.UpdateKeyDescriptionInput{KeyId: aws.String(w.sym()), Description: aws.String("d")}}
	},
	"Verify": func(w *walk) []any {
		id := w.key("ECC_NIST_P256", "SIGN_VERIFY")
		sig := w.tb.ok(logical.UpdateOperation, "sign/"+id, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"})["signature"]
		return []any{&awskms.VerifyInput{KeyId: aws.String(id), Message: []byte("m"), MessageType: types.MessageTypeRaw, Signature: unb64(w.t, sig),
			SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, GrantTokens: w.tokens(id)}}
	},
	"VerifyMac": func(w *walk) []any {
		id := w.key("HMAC_256", "GENERATE_VERIFY_MAC")
		mac := w.tb.ok(logical.UpdateOperation, "generate-mac/"+id, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256"})["mac"]
		return []any{&awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m"),
			Mac: unb64(w.t, mac), GrantTokens: w.tokens(id)}}
	},
}
