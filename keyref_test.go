package kms

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// paddings are the ways to put white space around a key reference that a
// trim would have removed.
var paddings = []func(string) string{
	func(r string) string { return r + " " },
	func(r string) string { return " " + r },
	func(r string) string { return r + "\t" },
	func(r string) string { return "\r" + r },
	func(r string) string { return r + "\u00a0" },
}

// A key reference with white space around it names no key, on every path
// family: otherwise kms/keys/<id>%20/policy reaches the key that a Vault ACL
// rule on kms/keys/<id>/policy denies.
func TestPaddedKeyReferencesRefused(t *testing.T) {
	tb := newTestBackend(t)
	sym := tb.createKey(map[string]any{"alias": "alias/padded"})
	signer := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	mac := tb.createKey(map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"})
	agree := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	kem := tb.createKey(map[string]any{"key_spec": "ML_KEM_768"})
	external := tb.createKey(map[string]any{"origin": "EXTERNAL"})
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+sym, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	grant := tb.ok(logical.UpdateOperation, "keys/"+sym+"/grants",
		map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})["grant_id"].(string)
	arn := tb.ok(logical.ReadOperation, "keys/"+sym, nil)["arn"].(string)
	pub := tb.ok(logical.ReadOperation, "keys/"+agree+"/public-key", nil)["public_key"]
	msg := map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"}

	type call struct {
		op   logical.Operation
		path string
		data map[string]any
	}
	var U, R, D, L logical.Operation = logical.UpdateOperation, logical.ReadOperation, logical.DeleteOperation, logical.ListOperation
	// Management paths take the key id only.
	management := func(id string) []call {
		return []call{
			{R, "keys/" + id, nil}, {U, "keys/" + id, map[string]any{"description": "d"}},
			{U, "keys/" + id + "/enable", nil}, {U, "keys/" + id + "/disable", nil},
			{U, "keys/" + id + "/schedule-deletion", map[string]any{"pending_window_days": 7}},
			{U, "keys/" + id + "/cancel-deletion", nil},
			{R, "keys/" + id + "/policy", nil}, {U, "keys/" + id + "/policy", map[string]any{"policy": openPolicy}},
			{L, "keys/" + id + "/policies", nil},
			{R, "keys/" + id + "/tags", nil}, {U, "keys/" + id + "/tags", map[string]any{"tags": map[string]any{"a": "b"}}},
			{U, "keys/" + id + "/untag", map[string]any{"tag_keys": "a"}},
			{R, "keys/" + id + "/rotation", nil}, {U, "keys/" + id + "/rotation", nil}, {D, "keys/" + id + "/rotation", nil},
			{U, "keys/" + id + "/rotate", nil}, {L, "keys/" + id + "/rotations", nil},
			{R, "keys/" + id + "/last-usage", nil}, {R, "keys/" + id + "/public-key", nil},
			{U, "keys/" + id + "/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"}},
			{L, "keys/" + id + "/grants", nil}, {D, "keys/" + id + "/grants/" + grant, nil},
			{U, "grants/retire", map[string]any{"key_id": id, "grant_id": grant}},
			{U, "keys/" + id + "/import-parameters", map[string]any{"wrapping_algorithm": "RSAES_OAEP_SHA_256", "wrapping_key_spec": "RSA_2048"}},
			{D, "keys/" + id + "/import", nil},
			{U, "aliases/alias/new-padded", map[string]any{"target_key_id": id}},
			{logical.PatchOperation, "aliases/alias/padded", map[string]any{"target_key_id": id}},
			{L, "aliases", map[string]any{"key_id": id}},
		}
	}
	// Cryptographic paths take any reference: id, ARN, alias.
	crypto := func(ref string, kind string) []call {
		switch kind {
		case "sym":
			return []call{
				{U, "encrypt/" + ref, map[string]any{"plaintext": b64s("x")}},
				{U, "decrypt/" + ref, map[string]any{"ciphertext_blob": blob}},
				{U, "decrypt", map[string]any{"ciphertext_blob": blob, "key_id": ref}},
				{U, "re-encrypt/" + ref, map[string]any{"ciphertext_blob": blob}},
				{U, "re-encrypt/" + sym, map[string]any{"ciphertext_blob": blob, "source_key_id": ref}},
				{U, "data-key/plaintext/" + ref, map[string]any{"key_spec": "AES_256"}},
				{U, "data-key/wrapped/" + ref, map[string]any{"key_spec": "AES_256"}},
				{U, "data-key-pair/plaintext/" + ref, map[string]any{"key_pair_spec": "ECC_NIST_P256"}},
				{U, "data-key-pair/wrapped/" + ref, map[string]any{"key_pair_spec": "ECC_NIST_P256"}},
				{R, "keys/" + ref, nil},
			}
		case "signer":
			return []call{{U, "sign/" + ref, msg}, {U, "verify/" + ref, map[string]any{"message": msg["message"],
				"signing_algorithm": "ECDSA_SHA_256", "signature": b64s("sig")}}, {R, "keys/" + ref + "/public-key", nil}}
		case "mac":
			return []call{{U, "generate-mac/" + ref, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256"}},
				{U, "verify-mac/" + ref, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256", "mac": b64s("mac")}}}
		case "agree":
			return []call{{U, "derive-shared-secret/" + ref, map[string]any{"key_agreement_algorithm": "ECDH", "public_key": pub}}}
		case "kem":
			return []call{{U, "encapsulate/" + ref, nil}}
		}
		return nil
	}

	var calls []call
	for _, pad := range paddings {
		calls = append(calls, management(pad(sym))...)
		calls = append(calls, call{U, "keys/" + pad(external) + "/import", map[string]any{"import_token": "t",
			"encrypted_key_material": b64s("m"), "expiration_model": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})
		for _, ref := range []string{sym, arn, "alias/padded", strings.Replace(arn, "key/"+sym, "alias/padded", 1)} {
			calls = append(calls, crypto(pad(ref), "sym")...)
		}
		for kind, id := range map[string]string{"signer": signer, "mac": mac, "agree": agree, "kem": kem} {
			calls = append(calls, crypto(pad(id), kind)...)
		}
	}
	for _, c := range calls {
		_, err := tb.do(c.op, c.path, c.data)
		var ke *kmserr.Error
		if !errors.As(err, &ke) || ke.Type != kmserr.NotFound {
			t.Errorf("%s %q %v: want %s, got %v", c.op, c.path, c.data, kmserr.NotFound, err)
		}
	}
	// Nothing above took effect.
	d := tb.ok(R, "keys/"+sym, nil)
	require.Equal(t, keystore.StateEnabled, d["key_state"])
	require.Empty(t, tb.ok(R, "keys/"+sym+"/tags", nil)["tags"])
	require.Len(t, tb.ok(L, "keys/"+sym+"/grants", nil)["keys"], 1)

	// The AWS endpoint: every member that names a key or an alias.
	for _, pad := range paddings {
		p := pad(sym)
		for op, body := range map[string]map[string]any{
			"DescribeKey":         {"KeyId": p},
			"Encrypt":             {"KeyId": p, "Plaintext": b64s("x")},
			"PutKeyPolicy":        {"KeyId": p, "Policy": openPolicy},
			"ScheduleKeyDeletion": {"KeyId": p, "PendingWindowInDays": 7},
			"DisableKey":          {"KeyId": p},
			"ReEncrypt":           {"CiphertextBlob": blob, "DestinationKeyId": p},
			"CreateAlias":         {"AliasName": "alias/aws-padded", "TargetKeyId": p},
			"UpdateAlias":         {"AliasName": "alias/padded", "TargetKeyId": p},
			"Sign":                {"KeyId": pad(signer), "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_256"},
		} {
			tb.awsFails(kmserr.NotFound, "", op, body)
		}
		tb.awsFails(kmserr.NotFound, "", "ReEncrypt", map[string]any{"CiphertextBlob": blob, "DestinationKeyId": sym, "SourceKeyId": p})
		tb.awsFails(kmserr.NotFound, "", "Encrypt", map[string]any{"KeyId": pad("alias/padded"), "Plaintext": b64s("x")})
		tb.awsFails(kmserr.NotFound, "", "UpdateAlias", map[string]any{"AliasName": pad("alias/padded"), "TargetKeyId": sym})
		tb.awsFails(kmserr.NotFound, "", "DeleteAlias", map[string]any{"AliasName": pad("alias/padded")})
		tb.fails(kmserr.NotFound, D, "aliases/"+pad("alias/padded"), nil)
		tb.fails(kmserr.NotFound, R, "aliases/"+pad("alias/padded"), nil)
	}
	require.Equal(t, sym, tb.ok(R, "aliases/alias/padded", nil)["target_key_id"])
}

// Aliases are named in full, alias/<name>, on every alias path and in
// CreateKey's alias field, as in AWS: a short form would name alias/prod-x
// by a path or value that a Vault ACL rule written on alias/prod-* does not
// match.
func TestAliasNamesNeedThePrefix(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/prod-orders"})
	other := tb.createKey(nil)
	for _, c := range []struct {
		op   logical.Operation
		path string
		data map[string]any
	}{
		{logical.UpdateOperation, "aliases/prod-new", map[string]any{"target_key_id": id}},
		{logical.CreateOperation, "aliases/prod-new", map[string]any{"target_key_id": id}},
		{logical.PatchOperation, "aliases/prod-orders", map[string]any{"target_key_id": other}},
		{logical.DeleteOperation, "aliases/prod-orders", nil},
		{logical.ReadOperation, "aliases/prod-orders", nil},
		{logical.UpdateOperation, "keys", map[string]any{"alias": "prod-other"}},
		{logical.UpdateOperation, "keys", map[string]any{"alias": "aliasprod"}},
	} {
		e := tb.fails(kmserr.Validation, c.op, c.path, c.data)
		require.Contains(t, e.Msg, `must start with the prefix "alias/"`)
	}
	tb.awsFails(kmserr.Validation, "", "CreateAlias", map[string]any{"AliasName": "prod-new", "TargetKeyId": id})
	tb.awsFails(kmserr.Validation, "", "DeleteAlias", map[string]any{"AliasName": "prod-orders"})

	// Nothing was created, moved or deleted; no key was made.
	require.Equal(t, []any{"alias/prod-orders"}, toAny(tb.ok(logical.ListOperation, "aliases", nil)["keys"]))
	require.Equal(t, id, tb.ok(logical.ReadOperation, "aliases/alias/prod-orders", nil)["target_key_id"])
	require.Len(t, tb.ok(logical.ListOperation, "keys", nil)["keys"], 2)
}

func toAny(v any) []any {
	out := []any{}
	switch l := v.(type) {
	case []string:
		for _, s := range l {
			out = append(out, s)
		}
	case []any:
		out = append(out, l...)
	}
	return out
}
