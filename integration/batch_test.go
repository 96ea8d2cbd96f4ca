package integration

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A top-level field of a batch request is the default of every item, as
// in Transit, through Vault's HTTP API.
func TestBatchTopLevelDefaultsOverHTTP(t *testing.T) {
	signer := createKey(t, map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	sigs := batchResults(t, write(t, "kms/sign/"+signer, map[string]any{
		"signing_algorithm": "ECDSA_SHA_256",
		"batch_input":       []any{map[string]any{"message": b64([]byte("1"))}, map[string]any{"message": b64([]byte("2"))}},
	}).Data)
	require.NotEmpty(t, sigs[0]["signature"], "%v", sigs[0])
	require.NotEmpty(t, sigs[1]["signature"], "%v", sigs[1])

	sym := createKey(t, nil)
	enc := batchResults(t, write(t, "kms/encrypt/"+sym, map[string]any{
		"encryption_context": map[string]any{"tenant": "a"},
		"batch_input":        []any{map[string]any{"plaintext": b64([]byte("x"))}},
	}).Data)
	dec := batchResults(t, write(t, "kms/decrypt", map[string]any{"batch_input": []any{
		map[string]any{"ciphertext_blob": enc[0]["ciphertext_blob"]},
		map[string]any{"ciphertext_blob": enc[0]["ciphertext_blob"], "encryption_context": map[string]any{"tenant": "a"}},
	}}).Data)
	require.Equal(t, "InvalidCiphertextException", dec[0]["error_type"], "the context was bound at encryption")
	require.Equal(t, "x", string(unb64(t, dec[1]["plaintext"])))
}
