package keyspec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
)

// TestUnwrapSM2PKE: material encrypted with gmsm's own SM2 encryption (not
// the plugin's code) to the wrapping key's SPKI unwraps; a changed byte,
// another algorithm, or an RSA key with SM2PKE do not.
func TestUnwrapSM2PKE(t *testing.T) {
	wrapping := generate(t, SM2)
	der, err := wrapping.PublicKeyDER()
	require.NoError(t, err)
	parsed, err := smx509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	pub, ok := parsed.(*ecdsa.PublicKey)
	require.True(t, ok && sm2.IsSM2PublicKey(pub))
	for _, material := range [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 1200)} {
		w, err := sm2.EncryptASN1(rand.Reader, pub, material)
		require.NoError(t, err)
		got, err := wrapping.UnwrapKeyMaterial(WrapSM2PKE, w)
		require.NoError(t, err)
		require.Equal(t, material, got)
		w[len(w)-1] ^= 1
		_, err = wrapping.UnwrapKeyMaterial(WrapSM2PKE, w)
		require.ErrorIs(t, err, ErrUnwrap)
	}
	_, err = wrapping.UnwrapKeyMaterial(WrapRSAESOAEPSHA256, []byte("x"))
	require.Error(t, err)
	_, err = generate(t, RSA2048).UnwrapKeyMaterial(WrapSM2PKE, []byte("x"))
	require.Error(t, err)
	require.True(t, WrappingPairOK(SM2, WrapSM2PKE))
	require.False(t, WrappingPairOK(SM2, WrapRSAESOAEPSHA256))
	require.False(t, WrappingPairOK(RSA2048, WrapSM2PKE))
}
