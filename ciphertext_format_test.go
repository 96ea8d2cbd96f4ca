package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"testing"

	uuid "github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Issue 11 item 15: new ciphertext is format 2 (a message key per
// encryption) everywhere a SYMMETRIC_DEFAULT blob is made: Encrypt, data
// keys, data key pairs and ReEncrypt.
func TestNewCiphertextIsFormat2(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	other := tb.createKey(nil)
	blobs := map[string]any{
		"encrypt":       tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": "aGk="})["ciphertext_blob"],
		"data key":      tb.ok(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})["ciphertext_blob"],
		"data key only": tb.ok(logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"number_of_bytes": 16})["ciphertext_blob"],
		"data key pair": tb.ok(logical.UpdateOperation, "data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})["private_key_ciphertext_blob"],
	}
	blobs["re-encrypt"] = tb.ok(logical.UpdateOperation, "re-encrypt/"+other, map[string]any{"ciphertext_blob": blobs["encrypt"]})["ciphertext_blob"]
	for name, blob := range blobs {
		raw := unb64(t, blob)
		b, err := ciphertext.Parse(raw)
		require.NoError(t, err, name)
		require.Equal(t, 2, b.Format, name)
		dec := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
		require.NotEmpty(t, dec["plaintext"], name)
	}
}

// A format 1 blob, as the plugin wrote before format 2, built here by hand
// with Go's AES-GCM from the key's stored material and the documented
// layout, still decrypts and re-encrypts (into format 2).
func TestFormat1CiphertextStillDecrypts(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	e, err := tb.keys.Get(context.Background(), tb.storage, id)
	require.NoError(t, err)
	block, err := aes.NewCipher(e.Versions[0].Material)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	rawID, err := uuid.ParseUUID(id)
	require.NoError(t, err)
	header := append(append([]byte{0x4B, 0x01}, rawID...), binary.BigEndian.AppendUint32(nil, e.Versions[0].Version)...)
	nonce := make([]byte, 12)
	ctx := map[string]string{"k": "v"}
	ad := append(append([]byte{}, header...), ciphertext.AppendContext(nil, ctx)...)
	blob := base64.StdEncoding.EncodeToString(gcm.Seal(append(append([]byte{}, header...), nonce...), nonce, []byte("legacy"), ad))

	dec := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": ctx})
	require.Equal(t, "legacy", string(unb64(t, dec["plaintext"])))
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	re := tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": blob,
		"source_encryption_context": ctx, "destination_encryption_context": ctx})
	b, err := ciphertext.Parse(unb64(t, re["ciphertext_blob"]))
	require.NoError(t, err)
	require.Equal(t, 2, b.Format)
	dec = tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": re["ciphertext_blob"], "encryption_context": ctx})
	require.Equal(t, "legacy", string(unb64(t, dec["plaintext"])))
}
