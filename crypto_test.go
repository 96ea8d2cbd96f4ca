package kms

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t *testing.T, v any) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.(string))
	require.NoError(t, err)
	return b
}

func TestEncryptDecryptSymmetric(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/sym"})
	ctx := map[string]any{"tenant": "a", "purpose": "test"}
	enc := tb.ok(logical.UpdateOperation, "encrypt/alias/sym", map[string]any{"plaintext": b64s("hello"), "encryption_context": ctx})
	require.Equal(t, id, enc["key_id"])
	blob := enc["ciphertext_blob"].(string)

	for _, path := range []string{"decrypt", "decrypt/" + id, "decrypt/alias/sym", "decrypt/arn:aws:kms:us-east-1:000000000000:key/" + id} {
		dec := tb.ok(logical.UpdateOperation, path, map[string]any{"ciphertext_blob": blob, "encryption_context": ctx})
		require.Equal(t, "hello", string(unb64(t, dec["plaintext"])), path)
		require.Equal(t, id, dec["key_id"])
	}

	// Every wrong context, and every damaged blob, is InvalidCiphertext.
	for _, bad := range []map[string]any{nil, {"tenant": "a"}, {"tenant": "b", "purpose": "test"}, {"tenant": "a", "purpose": "test", "x": "y"}} {
		tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": bad})
	}
	raw := unb64(t, blob)
	for _, i := range []int{0, 1, 5, 20, 25, len(raw) - 1} {
		c := append([]byte(nil), raw...)
		c[i] ^= 0x01
		tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(c), "encryption_context": ctx})
	}
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(raw[:30])})
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": b64s("garbage")})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": "not base64!"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "decrypt", map[string]any{})

	// A blob from another mount names a key this mount does not have.
	other := newTestBackend(t)
	otherID := other.createKey(nil)
	foreign := other.ok(logical.UpdateOperation, "encrypt/"+otherID, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": foreign})

	// Naming another key than the blob's.
	second := tb.createKey(nil)
	tb.fails(kmserr.IncorrectKey, logical.UpdateOperation, "decrypt/"+second, map[string]any{"ciphertext_blob": blob, "encryption_context": ctx})
}

func TestEncryptRefusals(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	signer := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256"})
	pt := b64s("x")
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(make([]byte, 4097))})
	tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(make([]byte, 4096))})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt, "encryption_algorithm": "RSAES_OAEP_SHA_1"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encrypt/"+signer, map[string]any{"plaintext": pt})
	tb.fails(kmserr.NotFound, logical.UpdateOperation, "encrypt/alias/none", map[string]any{"plaintext": pt})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt, "grant_tokens": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}})

	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})["ciphertext_blob"]
	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
}

func TestRSAEncryption(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"key_spec": "RSA_2048"})
	for alg, max := range map[string]int{"RSAES_OAEP_SHA_1": 214, "RSAES_OAEP_SHA_256": 190} {
		pt := base64.StdEncoding.EncodeToString(make([]byte, max))
		ct := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt, "encryption_algorithm": alg})["ciphertext_blob"]
		require.Equal(t, pt, tb.ok(logical.UpdateOperation, "decrypt/"+id, map[string]any{"ciphertext_blob": ct, "encryption_algorithm": alg})["plaintext"])
		tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(make([]byte, max+1)), "encryption_algorithm": alg})
		// RSA ciphertext needs the key and the algorithm.
		tb.fails(kmserr.Validation, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct, "encryption_algorithm": alg})
		tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "decrypt/"+id, map[string]any{"ciphertext_blob": ct})
		raw := unb64(t, ct)
		raw[10] ^= 1
		tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt/"+id, map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(raw), "encryption_algorithm": alg})
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "encryption_algorithm": "RSAES_OAEP_SHA_256", "encryption_context": map[string]any{"a": "b"}})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
}

func TestReEncrypt(t *testing.T) {
	tb := newTestBackend(t)
	a := tb.createKey(nil)
	b := tb.createKey(nil)
	r := tb.createKey(map[string]any{"key_spec": "RSA_3072"})
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+a, map[string]any{"plaintext": b64s("secret"), "encryption_context": map[string]any{"k": "1"}})["ciphertext_blob"]

	// symmetric -> symmetric, with a new context
	d := tb.ok(logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob,
		"source_encryption_context": map[string]any{"k": "1"}, "destination_encryption_context": map[string]any{"k": "2"}})
	require.Equal(t, a, d["source_key_id"])
	require.Equal(t, b, d["key_id"])
	require.NotContains(t, d, "plaintext")
	got := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"], "encryption_context": map[string]any{"k": "2"}})
	require.Equal(t, "secret", string(unb64(t, got["plaintext"])))

	// symmetric -> RSA -> symmetric
	d = tb.ok(logical.UpdateOperation, "re-encrypt/"+r, map[string]any{"ciphertext_blob": blob,
		"source_encryption_context": map[string]any{"k": "1"}, "destination_encryption_algorithm": "RSAES_OAEP_SHA_256"})
	d = tb.ok(logical.UpdateOperation, "re-encrypt/"+a, map[string]any{"ciphertext_blob": d["ciphertext_blob"],
		"source_key_id": r, "source_encryption_algorithm": "RSAES_OAEP_SHA_256"})
	got = tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"]})
	require.Equal(t, "secret", string(unb64(t, got["plaintext"])))

	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob})
	tb.fails(kmserr.IncorrectKey, logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob, "source_key_id": b,
		"source_encryption_context": map[string]any{"k": "1"}})
	tb.ok(logical.UpdateOperation, "keys/"+b+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob, "source_encryption_context": map[string]any{"k": "1"}})
}

func TestSignVerifyPaths(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P384"})
	msg := b64s("pay 10 to bob")
	sig := tb.ok(logical.UpdateOperation, "sign/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_384"})["signature"]
	v := tb.ok(logical.UpdateOperation, "verify/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_384", "signature": sig})
	require.Equal(t, true, v["signature_valid"])
	tb.fails(kmserr.InvalidSignature, logical.UpdateOperation, "verify/"+id, map[string]any{"message": b64s("pay 99 to bob"), "signing_algorithm": "ECDSA_SHA_384", "signature": sig})

	e := tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "sign/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_256"})
	require.Contains(t, e.Msg, "ECDSA_SHA_384", "the error lists the valid algorithms")
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+id, map[string]any{"message": msg})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_384", "message_type": "DIGEST"})
	digest := sha256.Sum256([]byte("x"))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+id, map[string]any{"message": base64.StdEncoding.EncodeToString(digest[:]), "signing_algorithm": "ECDSA_SHA_384", "message_type": "DIGEST"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+id, map[string]any{"message": base64.StdEncoding.EncodeToString(make([]byte, 4097)), "signing_algorithm": "ECDSA_SHA_384"})

	ed := tb.createKey(map[string]any{"key_spec": "ECC_NIST_EDWARDS25519"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+ed, map[string]any{"message": msg, "signing_algorithm": "ED25519_PH_SHA_512"})
	ml := tb.createKey(map[string]any{"key_spec": "ML_DSA_44"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+ml, map[string]any{"message": base64.StdEncoding.EncodeToString(make([]byte, 63)), "signing_algorithm": "ML_DSA_SHAKE_256", "message_type": "EXTERNAL_MU"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "sign/"+ml, map[string]any{"message": msg, "signing_algorithm": "ML_DSA_SHAKE_256", "message_type": "DIGEST"})

	sym := tb.createKey(nil)
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "sign/"+sym, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_384"})
	tb.fails(kmserr.UnsupportedOperation, logical.ReadOperation, "keys/"+sym+"/public-key", nil)
	pk := tb.ok(logical.ReadOperation, "keys/"+id+"/public-key", nil)
	require.Contains(t, pk["public_key_pem"], "-----BEGIN PUBLIC KEY-----")
	require.Equal(t, []string{"ECDSA_SHA_384"}, pk["signing_algorithms"])
	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.ReadOperation, "keys/"+id+"/public-key", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "verify/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_384", "signature": sig})
}

func TestMACPaths(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"key_spec": "HMAC_384"})
	msg := b64s("message")
	mac := tb.ok(logical.UpdateOperation, "generate-mac/"+id, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_384"})["mac"]
	require.Len(t, unb64(t, mac), 48)
	require.Equal(t, true, tb.ok(logical.UpdateOperation, "verify-mac/"+id, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_384", "mac": mac})["mac_valid"])
	tb.fails(kmserr.InvalidMac, logical.UpdateOperation, "verify-mac/"+id, map[string]any{"message": b64s("other"), "mac_algorithm": "HMAC_SHA_384", "mac": mac})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "generate-mac/"+id, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "generate-mac/"+id, map[string]any{"message": msg})
	sym := tb.createKey(nil)
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "generate-mac/"+sym, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})
}

func TestRandomAndDerive(t *testing.T) {
	tb := newTestBackend(t)
	for _, n := range []int{1, 32, 1024} {
		require.Len(t, unb64(t, tb.ok(logical.UpdateOperation, "random", map[string]any{"number_of_bytes": n})["plaintext"]), n)
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "random", map[string]any{"number_of_bytes": 0})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "random", map[string]any{"number_of_bytes": 1025})

	a := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	b := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	pa := tb.ok(logical.ReadOperation, "keys/"+a+"/public-key", nil)["public_key"]
	pb := tb.ok(logical.ReadOperation, "keys/"+b+"/public-key", nil)["public_key"]
	s1 := tb.ok(logical.UpdateOperation, "derive-shared-secret/"+a, map[string]any{"public_key": pb})["shared_secret"]
	s2 := tb.ok(logical.UpdateOperation, "derive-shared-secret/"+b, map[string]any{"public_key": pa})["shared_secret"]
	require.Equal(t, s1, s2)

	p384 := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P384", "key_usage": "KEY_AGREEMENT"})
	wrong := tb.ok(logical.ReadOperation, "keys/"+p384+"/public-key", nil)["public_key"]
	tb.fails(kmserr.Validation, logical.UpdateOperation, "derive-shared-secret/"+a, map[string]any{"public_key": wrong})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "derive-shared-secret/"+a, map[string]any{"public_key": pb, "key_agreement_algorithm": "ECDHE"})
	signer := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "derive-shared-secret/"+signer, map[string]any{"public_key": pb})
}

func TestBatch(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	res := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": []any{
		map[string]any{"plaintext": b64s("one"), "encryption_context": map[string]any{"n": "1"}},
		map[string]any{"plaintext": "%%%"},
		map[string]any{"plaintext": b64s("three")},
		"not an object",
		map[string]any{"plaintext": 12345, "encryption_context": "not a map"},
	}})["batch_results"].([]map[string]any)
	require.Len(t, res, 5)
	require.NotEmpty(t, res[0]["ciphertext_blob"])
	require.Equal(t, kmserr.Validation, res[1]["error_type"])
	require.NotEmpty(t, res[2]["ciphertext_blob"])
	require.Equal(t, kmserr.Validation, res[3]["error_type"])
	require.Equal(t, kmserr.Validation, res[4]["error_type"])

	dec := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"batch_input": []any{
		map[string]any{"ciphertext_blob": res[2]["ciphertext_blob"]},
		map[string]any{"ciphertext_blob": res[0]["ciphertext_blob"]}, // wrong context
		map[string]any{"ciphertext_blob": res[0]["ciphertext_blob"], "encryption_context": map[string]any{"n": "1"}},
	}})["batch_results"].([]map[string]any)
	require.Equal(t, "three", string(unb64(t, dec[0]["plaintext"])))
	require.Equal(t, kmserr.InvalidCiphertext, dec[1]["error_type"])
	require.Equal(t, "one", string(unb64(t, dec[2]["plaintext"])))

	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": []any{}})
	big := make([]any, 1001)
	for i := range big {
		big[i] = map[string]any{"plaintext": b64s("x")}
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": big})
}
