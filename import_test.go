package kms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// importParams asks for import parameters and returns the wrapping public
// key and the token.
func (tb *testBackend) importParams(id, alg string) (*rsa.PublicKey, string) {
	tb.t.Helper()
	d := tb.ok(logical.UpdateOperation, "keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "RSA_2048", "wrapping_algorithm": alg})
	der, err := base64.StdEncoding.DecodeString(d["public_key"].(string))
	require.NoError(tb.t, err)
	pub, err := x509.ParsePKIXPublicKey(der)
	require.NoError(tb.t, err)
	return pub.(*rsa.PublicKey), d["import_token"].(string)
}

func (tb *testBackend) importMaterial(id, alg string, material []byte, extra map[string]any) (*logical.Response, error) {
	pub, token := tb.importParams(id, alg)
	wrapped, err := keyspec.WrapKeyMaterial(pub, alg, material, rand.Reader)
	require.NoError(tb.t, err)
	data := map[string]any{"encrypted_key_material": base64.StdEncoding.EncodeToString(wrapped), "import_token": token}
	for k, v := range extra {
		data[k] = v
	}
	return tb.do(logical.UpdateOperation, "keys/"+id+"/import", data)
}

func TestImportSymmetric(t *testing.T) {
	tb := newTestBackend(t)
	d := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})
	id := d["key_id"].(string)
	require.Equal(t, "PendingImport", d["key_state"])
	require.Equal(t, "EXTERNAL", d["origin"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/enable", nil)

	material := bytes.Repeat([]byte{0x42}, 32)
	for _, alg := range keyspec.WrappingAlgorithms() {
		if alg == keyspec.WrapSM2PKE {
			continue // TestImportWrappedWithSM2
		}
		_, err := tb.importMaterial(id, alg, material, nil)
		require.NoError(t, err, alg)
	}
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("imported")})["ciphertext_blob"]

	// Delete the material: PendingImport; only the same material comes back.
	tb.ok(logical.DeleteOperation, "keys/"+id+"/import", nil)
	require.Equal(t, "PendingImport", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{0x43}, 32), nil)
	requireKMSError(t, err, kmserr.IncorrectKeyMaterial)
	_, err = tb.importMaterial(id, "RSAES_OAEP_SHA_256", material, nil)
	require.NoError(t, err)
	require.Equal(t, "imported", string(unb64(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})["plaintext"])))

	// Imported keys rotate on demand only, and only to imported material
	// pending rotation (see TestImportSeveralMaterials).
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/rotation", nil)
}

func TestImportRefusals(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	other := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	material := bytes.Repeat([]byte{1}, 32)

	pub, token := tb.importParams(id, "RSAES_OAEP_SHA_256")
	wrapped, _ := keyspec.WrapKeyMaterial(pub, "RSAES_OAEP_SHA_256", material, rand.Reader)
	req := func(target, tok string, w []byte) error {
		_, err := tb.do(logical.UpdateOperation, "keys/"+target+"/import", map[string]any{
			"encrypted_key_material": base64.StdEncoding.EncodeToString(w), "import_token": tok})
		return err
	}
	requireKMSError(t, req(other, token, wrapped), kmserr.InvalidImportToken) // another key's token
	requireKMSError(t, req(id, "forged", wrapped), kmserr.InvalidImportToken)
	tampered := []byte(token)
	tampered[len(tampered)-2] ^= 1
	requireKMSError(t, req(id, string(tampered), wrapped), kmserr.InvalidImportToken)
	bad := append([]byte(nil), wrapped...)
	bad[3] ^= 1
	requireKMSError(t, req(id, token, bad), kmserr.InvalidCiphertext)
	short, _ := keyspec.WrapKeyMaterial(pub, "RSAES_OAEP_SHA_256", material[:16], rand.Reader)
	requireKMSError(t, req(id, token, short), kmserr.IncorrectKeyMaterial)

	// Newer parameters replace the older token; tokens expire after 24h.
	_, newer := tb.importParams(id, "RSAES_OAEP_SHA_256")
	requireKMSError(t, req(id, token, wrapped), kmserr.InvalidImportToken)
	tb.advance(25 * time.Hour)
	requireKMSError(t, req(id, newer, wrapped), kmserr.ExpiredImportToken)

	for _, data := range []map[string]any{
		{"wrapping_key_spec": "RSA_1024"},
		{"wrapping_algorithm": "RSAES_PKCS1_V1_5"},
	} {
		tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+id+"/import-parameters", data)
	}
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_1", material, map[string]any{"expiration_model": "KEY_MATERIAL_EXPIRES"})
	requireKMSError(t, err, kmserr.Validation)
	_, err = tb.importMaterial(id, "RSAES_OAEP_SHA_1", material, map[string]any{"valid_to": "2030-01-01T00:00:00Z"})
	requireKMSError(t, err, kmserr.Validation)

	native := tb.createKey(nil)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+native+"/import-parameters", nil)
	tb.fails(kmserr.UnsupportedOperation, logical.DeleteOperation, "keys/"+native+"/import", nil)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "ML_DSA_44"})
}

func TestImportAsymmetricAndHMAC(t *testing.T) {
	tb := newTestBackend(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	digest := sha256.Sum256([]byte("m"))

	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})["key_id"].(string)
	_, err := tb.importMaterial(id, "RSA_AES_KEY_WRAP_SHA_256", rsaDER, nil)
	require.NoError(t, err)
	sig := tb.ok(logical.UpdateOperation, "sign/"+id, map[string]any{"message": b64s("m"), "signing_algorithm": "RSASSA_PKCS1_V1_5_SHA_256"})["signature"]
	require.NoError(t, rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], unb64(t, sig)))

	// EC material for an RSA key, and a P-256 key for a P-384 key, do not fit.
	id2 := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})["key_id"].(string)
	_, err = tb.importMaterial(id2, "RSA_AES_KEY_WRAP_SHA_256", ecDER, nil)
	requireKMSError(t, err, kmserr.IncorrectKeyMaterial)

	ec := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "ECC_NIST_P384"})["key_id"].(string)
	_, err = tb.importMaterial(ec, "RSA_AES_KEY_WRAP_SHA_1", ecDER, nil)
	require.NoError(t, err)
	d384 := sha384Digest(t, "m")
	sig = tb.ok(logical.UpdateOperation, "sign/"+ec, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_384"})["signature"]
	require.True(t, ecdsa.VerifyASN1(&ecKey.PublicKey, d384, unb64(t, sig)))

	h := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "HMAC_256"})["key_id"].(string)
	_, err = tb.importMaterial(h, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{9}, 32), nil)
	require.NoError(t, err)
	tb.ok(logical.UpdateOperation, "generate-mac/"+h, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256"})
}

func TestImportedMaterialExpires(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	validTo := tb.now().Add(2 * time.Hour).Format(time.RFC3339)
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{5}, 32), map[string]any{
		"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": validTo})
	require.NoError(t, err)
	d := tb.ok(logical.ReadOperation, "keys/"+id, nil)
	require.Equal(t, validTo, d["valid_to"])
	tb.advance(time.Hour)
	tb.runPeriodic()
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	tb.advance(time.Hour)
	tb.runPeriodic()
	require.Equal(t, "PendingImport", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})

	// A key pending import can be scheduled for deletion, and a cancelled
	// deletion returns it to PendingImport.
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", nil)
	require.Equal(t, "PendingImport", tb.ok(logical.UpdateOperation, "keys/"+id+"/cancel-deletion", nil)["key_state"])
}

func sha384Digest(t *testing.T, s string) []byte {
	t.Helper()
	a, _ := keyspec.LookupSigning(keyspec.AlgECDSASHA384)
	h := a.Hash.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}

// ImportKeyMaterial's valid_to is at most 365 days after the request (AWS's
// API reference: "The maximum value is 365 days from the request date"), on
// the Vault-style path and the AWS endpoint alike.
func TestImportValidToAtMost365Days(t *testing.T) {
	tb := newTestBackend(t)
	limit := tb.now().Add(365 * 24 * time.Hour)
	material := bytes.Repeat([]byte{7}, 32)
	expires := func(at time.Time) map[string]any {
		return map[string]any{"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": at.Format(time.RFC3339)}
	}
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", material, expires(limit.Add(time.Second)))
	require.Contains(t, requireKMSError(t, err, kmserr.Validation).Msg, "365 days")
	_, err = tb.importMaterial(id, "RSAES_OAEP_SHA_256", material, expires(limit))
	require.NoError(t, err)
	require.Equal(t, limit.Format(time.RFC3339), tb.ok(logical.ReadOperation, "keys/"+id, nil)["valid_to"])

	awsImport := func(id string, validTo time.Time) (int, map[string]any) {
		p := tb.aws("", "GetParametersForImport", map[string]any{"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})
		der, err := base64.StdEncoding.DecodeString(p["PublicKey"].(string))
		require.NoError(t, err)
		pub, err := x509.ParsePKIXPublicKey(der)
		require.NoError(t, err)
		wrapped, err := keyspec.WrapKeyMaterial(pub.(*rsa.PublicKey), "RSAES_OAEP_SHA_256", material, rand.Reader)
		require.NoError(t, err)
		return tb.awsCall("", "aws", "TrentService.ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": p["ImportToken"],
			"EncryptedKeyMaterial": base64.StdEncoding.EncodeToString(wrapped), "ExpirationModel": "KEY_MATERIAL_EXPIRES",
			"ValidTo": validTo.Unix()})
	}
	other := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	status, out := awsImport(other, limit.Add(time.Second))
	require.Equal(t, 400, status)
	require.Equal(t, kmserr.Validation, out["__type"])
	status, out = awsImport(other, limit)
	require.Equal(t, 200, status, "%v", out)
}
