package ciphertext

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// gcmToken stands in for a token's CKM_AES_GCM with Go's AES-GCM, so the
// format's layout and associated data can be checked byte for byte.
func gcmToken(t testing.TB) (cipher.AEAD, TokenSeal, TokenOpen) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	seal := func(aad, pt []byte) ([]byte, []byte, error) {
		iv := make([]byte, 12)
		_, _ = rand.Read(iv)
		return iv, gcm.Seal(nil, iv, pt, aad), nil
	}
	open := func(iv, sealed, aad []byte) ([]byte, error) {
		pt, err := gcm.Open(nil, iv, sealed, aad)
		if err != nil {
			return nil, ErrAuth
		}
		return pt, nil
	}
	return gcm, seal, open
}

func TestFormat3RoundTripAndLayout(t *testing.T) {
	gcm, seal, open := gcmToken(t)
	ctx := map[string]string{"tenant": "a"}
	blob, err := SealToken(keyID, 5, ctx, []byte("in the token"), seal)
	require.NoError(t, err)
	require.Len(t, blob, len("in the token")+OverheadV3)
	b, err := Parse(blob)
	require.NoError(t, err)
	require.Equal(t, 3, b.Format)
	require.Equal(t, keyID, b.KeyID)
	require.Equal(t, uint32(5), b.KeyVersion)
	got, err := b.OpenToken(ctx, open)
	require.NoError(t, err)
	require.Equal(t, []byte("in the token"), got)

	// The layout as documented: header, IV, ciphertext||tag, with the
	// header and the canonical context as associated data.
	hdr, _ := hex.DecodeString("4b031234abcd12ab34cd56ef1234567890ab00000005")
	require.Equal(t, hdr, blob[:22])
	ad := append(append([]byte{}, hdr...), 0, 0, 0, 1, 0, 0, 0, 6, 't', 'e', 'n', 'a', 'n', 't', 0, 0, 0, 1, 'a')
	pt, err := gcm.Open(nil, blob[22:34], blob[34:], ad)
	require.NoError(t, err)
	require.Equal(t, []byte("in the token"), pt)

	// Another context, another format's opener, or a software key: refused.
	_, err = b.OpenToken(map[string]string{"tenant": "b"}, open)
	require.ErrorIs(t, err, ErrAuth)
	_, err = b.Open(newKey(t), ctx)
	require.ErrorIs(t, err, ErrAuth, "a software key never opens a token blob")
	soft, err := Seal(newKey(t), keyID, 5, ctx, []byte("software"), rand.Reader)
	require.NoError(t, err)
	sb, err := Parse(soft)
	require.NoError(t, err)
	_, err = sb.OpenToken(ctx, open)
	require.ErrorIs(t, err, ErrAuth, "a token key never opens a format 2 blob")
}

// Every bit flip and truncation of a format 3 blob is refused.
func TestFormat3Tamper(t *testing.T) {
	_, seal, open := gcmToken(t)
	ctx := map[string]string{"k": "v"}
	blob, err := SealToken(keyID, 1, ctx, []byte("attack at dawn"), seal)
	require.NoError(t, err)
	for i := range blob {
		for bit := range 8 {
			c := append([]byte(nil), blob...)
			c[i] ^= 1 << bit
			b, err := Parse(c)
			if err != nil {
				require.ErrorIs(t, err, ErrMalformed)
				continue
			}
			_, err = b.OpenToken(ctx, open)
			require.ErrorIs(t, err, ErrAuth, "flip of byte %d bit %d", i, bit)
		}
	}
	for n := range len(blob) {
		if _, err := Parse(blob[:n]); err == nil && n < OverheadV3 {
			t.Fatalf("a format 3 blob of %d bytes parsed", n)
		}
	}
	// A token that fails is passed on, not taken for a forgery.
	b, _ := Parse(blob)
	boom := errors.New("token gone")
	_, err = b.OpenToken(ctx, func(_, _, _ []byte) ([]byte, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	// A token that answers with the wrong sizes does not make a blob.
	_, err = SealToken(keyID, 1, nil, []byte("x"), func(_, _ []byte) ([]byte, []byte, error) {
		return make([]byte, 12), bytes.Repeat([]byte{1}, 3), nil
	})
	require.ErrorIs(t, err, ErrMalformed)
}
