package kms

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// ownedSpec creates a key of the given kind whose policy allows everything
// to owner only.
func ownedSpec(t *testing.T, tb *testBackend, owner string, data map[string]any) string {
	t.Helper()
	doc := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("entity:" + owner), "Action": actions("*")})
	in := map[string]any{"policy": doc}
	for k, v := range data {
		in[k] = v
	}
	return tb.asOK(owner, logical.UpdateOperation, "keys", in)["key_id"].(string)
}

// Every operation on a key authorizes the caller before it checks the
// input: a caller the key policy denies gets AccessDeniedException for an
// invalid request too, never the format error, limit or "does not exist"
// the request would earn an allowed caller (who gets it, below).
func TestAuthorizeBeforeValidating(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	sym := ownedSpec(t, tb, "admin", nil)
	signer := ownedSpec(t, tb, "admin", map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	mac := ownedSpec(t, tb, "admin", map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"})
	agree := ownedSpec(t, tb, "admin", map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	kem := ownedSpec(t, tb, "admin", map[string]any{"key_spec": "ML_KEM_768"})
	external := ownedSpec(t, tb, "admin", map[string]any{"origin": "EXTERNAL"})
	blob := tb.asOK("admin", logical.UpdateOperation, "encrypt/"+sym, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	absentGrant := strings.Repeat("ab", 32)
	tooManyTokens := make([]string, 11)
	for i := range tooManyTokens {
		tooManyTokens[i] = "t"
	}
	bigContext := map[string]any{"k": strings.Repeat("v", 9000)}
	past := time.Unix(1, 0).UTC().Format(time.RFC3339)
	later := tb.clock.Add(400 * 24 * time.Hour).Format(time.RFC3339)

	var U, R, D, P logical.Operation = logical.UpdateOperation, logical.ReadOperation, logical.DeleteOperation, logical.PatchOperation
	for _, c := range []struct {
		name string
		op   logical.Operation
		path string
		data map[string]any
		exc  string // what the allowed caller gets
	}{
		{"PutKeyPolicy not JSON", U, "keys/" + sym + "/policy", map[string]any{"policy": "{not json"}, kmserr.MalformedPolicy},
		{"PutKeyPolicy missing", U, "keys/" + sym + "/policy", map[string]any{}, kmserr.Validation},
		{"GetKeyPolicy other name", R, "keys/" + sym + "/policy", map[string]any{"policy_name": "other"}, kmserr.NotFound},
		{"DescribeKey tokens", R, "keys/" + sym, map[string]any{"grant_tokens": tooManyTokens}, kmserr.Validation},
		{"UpdateKeyDescription long", U, "keys/" + sym, map[string]any{"description": strings.Repeat("d", 9000)}, kmserr.Validation},
		{"UpdateKeyDescription missing", U, "keys/" + sym, map[string]any{}, kmserr.Validation},
		{"ScheduleKeyDeletion window", U, "keys/" + sym + "/schedule-deletion", map[string]any{"pending_window_days": 1}, kmserr.Validation},
		{"TagResource none", U, "keys/" + sym + "/tags", map[string]any{}, kmserr.Validation},
		{"UntagResource none", U, "keys/" + sym + "/untag", map[string]any{}, kmserr.Validation},
		{"EnableKeyRotation period", U, "keys/" + sym + "/rotation", map[string]any{"rotation_period_days": 1}, kmserr.Validation},
		{"CreateGrant bad operation", U, "keys/" + sym + "/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Bogus"}, kmserr.Validation},
		{"CreateGrant unfit for the key", U, "keys/" + sym + "/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Sign"}, kmserr.Validation},
		{"CreateGrant tokens", U, "keys/" + sym + "/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt", "grant_tokens": tooManyTokens}, kmserr.Validation},
		{"RevokeGrant malformed id", D, "keys/" + sym + "/grants/xyz", nil, kmserr.InvalidGrantID},
		{"RevokeGrant absent", D, "keys/" + sym + "/grants/" + absentGrant, nil, kmserr.NotFound},
		{"RetireGrant malformed id", U, "grants/retire", map[string]any{"key_id": sym, "grant_id": "xyz"}, kmserr.InvalidGrantID},
		{"RetireGrant absent", U, "grants/retire", map[string]any{"key_id": sym, "grant_id": absentGrant}, kmserr.NotFound},
		{"GetParametersForImport algorithm", U, "keys/" + external + "/import-parameters", map[string]any{"wrapping_algorithm": "X", "wrapping_key_spec": "RSA_2048"}, kmserr.Validation},
		{"ImportKeyMaterial not base64", U, "keys/" + external + "/import", map[string]any{"encrypted_key_material": "!!", "import_token": "t"}, kmserr.Validation},
		{"ImportKeyMaterial past", U, "keys/" + external + "/import", map[string]any{"encrypted_key_material": b64s("m"), "import_token": "t",
			"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": past}, kmserr.Validation},
		{"ImportKeyMaterial too late", U, "keys/" + external + "/import", map[string]any{"encrypted_key_material": b64s("m"), "import_token": "t",
			"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": later}, kmserr.Validation},
		{"ImportKeyMaterial import type", U, "keys/" + external + "/import", map[string]any{"encrypted_key_material": b64s("m"), "import_token": "t",
			"expiration_model": "KEY_MATERIAL_DOES_NOT_EXPIRE", "import_type": "X"}, kmserr.Validation},
		{"DeleteImportedKeyMaterial id", D, "keys/" + external + "/import", map[string]any{"key_material_id": "xyz"}, kmserr.Validation},
		{"Encrypt not base64", U, "encrypt/" + sym, map[string]any{"plaintext": "!!"}, kmserr.Validation},
		{"Encrypt context", U, "encrypt/" + sym, map[string]any{"plaintext": b64s("x"), "encryption_context": bigContext}, kmserr.Validation},
		{"Encrypt invalid token", U, "encrypt/" + sym, map[string]any{"plaintext": b64s("x"), "grant_tokens": []string{"garbage"}}, kmserr.InvalidGrantToken},
		{"DescribeKey invalid token", R, "keys/" + sym, map[string]any{"grant_tokens": []string{"garbage"}}, kmserr.InvalidGrantToken},
		{"CreateGrant invalid token", U, "keys/" + sym + "/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt", "grant_tokens": []string{"garbage"}}, kmserr.InvalidGrantToken},
		{"Encrypt tokens", U, "encrypt/" + sym, map[string]any{"plaintext": b64s("x"), "grant_tokens": tooManyTokens}, kmserr.Validation},
		{"Decrypt not base64", U, "decrypt/" + sym, map[string]any{"ciphertext_blob": "!!"}, kmserr.Validation},
		{"Decrypt context, key from the blob", U, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": bigContext}, kmserr.Validation},
		{"ReEncrypt not base64", U, "re-encrypt/" + sym, map[string]any{"ciphertext_blob": "!!"}, kmserr.Validation},
		{"GenerateDataKey size", U, "data-key/plaintext/" + sym, map[string]any{}, kmserr.Validation},
		{"GenerateDataKeyWithoutPlaintext context", U, "data-key/wrapped/" + sym, map[string]any{"key_spec": "AES_256", "encryption_context": bigContext}, kmserr.Validation},
		{"GenerateDataKeyPair spec", U, "data-key-pair/plaintext/" + sym, map[string]any{"key_pair_spec": "X"}, kmserr.Validation},
		{"Sign not base64", U, "sign/" + signer, map[string]any{"message": "!!", "signing_algorithm": "ECDSA_SHA_256"}, kmserr.Validation},
		{"Verify not base64", U, "verify/" + signer, map[string]any{"message": "!!", "signing_algorithm": "ECDSA_SHA_256", "signature": b64s("s")}, kmserr.Validation},
		{"GetPublicKey tokens", R, "keys/" + signer + "/public-key", map[string]any{"grant_tokens": tooManyTokens}, kmserr.Validation},
		{"GenerateMac not base64", U, "generate-mac/" + mac, map[string]any{"message": "!!", "mac_algorithm": "HMAC_SHA_256"}, kmserr.Validation},
		{"DeriveSharedSecret not base64", U, "derive-shared-secret/" + agree, map[string]any{"key_agreement_algorithm": "ECDH", "public_key": "!!"}, kmserr.Validation},
		{"Encapsulate tokens", U, "encapsulate/" + kem, map[string]any{"grant_tokens": tooManyTokens}, kmserr.Validation},
		{"Decapsulate not base64", U, "decapsulate/" + kem, map[string]any{"shared_secret_ciphertext_blob": "!!"}, kmserr.Validation},
		{"CreateAlias bad name", U, "aliases/alias/bad name", map[string]any{"target_key_id": sym}, kmserr.InvalidAliasName},
		{"CreateAlias short name", U, "aliases/short", map[string]any{"target_key_id": sym}, kmserr.Validation},
		{"UpdateAlias short name", P, "aliases/short", map[string]any{"target_key_id": sym}, kmserr.Validation},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb.t = t
			tb.asFails(kmserr.AccessDenied, "mallory", c.op, c.path, c.data)
			tb.asFails(c.exc, "admin", c.op, c.path, c.data)
		})
	}
	tb.t = t

	// The AWS endpoint runs the same handlers.
	for op, body := range map[string]map[string]any{
		"PutKeyPolicy":        {"KeyId": sym, "Policy": "{not json"},
		"ScheduleKeyDeletion": {"KeyId": sym, "PendingWindowInDays": 1},
		"Encrypt":             {"KeyId": sym, "Plaintext": b64s("x"), "GrantTokens": tooManyTokens},
		"CreateAlias":         {"AliasName": "alias/bad name", "TargetKeyId": sym},
	} {
		tb.awsFails(kmserr.AccessDenied, "mallory", op, body)
		require.NotEqual(t, kmserr.AccessDenied, awsType(tb, "admin", op, body), op)
	}
}

func awsType(tb *testBackend, entity, op string, body map[string]any) string {
	_, out := tb.awsCall(entity, "aws", "TrentService."+op, body)
	typ, _ := out["__type"].(string)
	return typ
}
