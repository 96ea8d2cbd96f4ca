package kms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// Expired imported material is refused at request time, before the sweep
// runs; the sweep only cleans up.
func TestExpiredMaterialRefusedBeforeSweep(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	validTo := tb.now().Add(2 * time.Hour).Format(time.RFC3339)
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{5}, 32), map[string]any{
		"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": validTo})
	require.NoError(t, err)
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.advance(2 * time.Hour) // no periodic run
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
	tb.ok(logical.ReadOperation, "keys/"+id, nil) // management still works

	asym := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})["key_id"].(string)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	_, err = tb.importMaterial(asym, "RSA_AES_KEY_WRAP_SHA_256", der, map[string]any{
		"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": tb.now().Add(time.Hour).Format(time.RFC3339)})
	require.NoError(t, err)
	tb.ok(logical.ReadOperation, "keys/"+asym+"/public-key", nil)
	tb.advance(time.Hour)
	tb.fails(kmserr.InvalidState, logical.ReadOperation, "keys/"+asym+"/public-key", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "sign/"+asym, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"})
}
