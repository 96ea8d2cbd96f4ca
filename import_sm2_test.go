package kms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// TestImportWrappedWithSM2: the SM2 wrapping key spec with the SM2PKE
// wrapping algorithm; the material is encrypted with gmsm's SM2 (not the
// plugin's unwrap code) to the downloaded wrapping key. SM2PKE goes with
// SM2 only, and SM2 with SM2PKE only.
func TestImportWrappedWithSM2(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "SM2", "wrapping_algorithm": "RSAES_OAEP_SHA_256"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "RSA_2048", "wrapping_algorithm": "SM2PKE"})
	tb.awsFails(kmserr.Validation, "", "GetParametersForImport", map[string]any{"KeyId": id, "WrappingKeySpec": "SM2", "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256"})

	p := tb.aws("", "GetParametersForImport", map[string]any{"KeyId": id, "WrappingKeySpec": "SM2", "WrappingAlgorithm": "SM2PKE"})
	der, err := base64.StdEncoding.DecodeString(p["PublicKey"].(string))
	require.NoError(t, err)
	parsed, err := smx509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	pub, ok := parsed.(*ecdsa.PublicKey)
	require.True(t, ok && sm2.IsSM2PublicKey(pub), "the wrapping key is an SM2 key")
	material := bytes.Repeat([]byte{0x5a}, 32)
	wrapped, err := sm2.EncryptASN1(rand.Reader, pub, material)
	require.NoError(t, err)
	out := tb.aws("", "ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": p["ImportToken"],
		"EncryptedKeyMaterial": base64.StdEncoding.EncodeToString(wrapped), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
	require.Len(t, out["KeyMaterialId"], 64)
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])

	// Material wrapped to another SM2 key does not unwrap.
	p = tb.aws("", "GetParametersForImport", map[string]any{"KeyId": id, "WrappingKeySpec": "SM2", "WrappingAlgorithm": "SM2PKE"})
	other, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	wrapped, err = sm2.EncryptASN1(rand.Reader, &other.PublicKey, material)
	require.NoError(t, err)
	tb.awsFails(kmserr.InvalidCiphertext, "", "ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": p["ImportToken"],
		"EncryptedKeyMaterial": base64.StdEncoding.EncodeToString(wrapped), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}
