package keyspec

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// RFC 5649 section 6 test vectors.
func TestKWPVectors(t *testing.T) {
	kek, _ := hex.DecodeString("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, v := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		key, _ := hex.DecodeString(v.key)
		want, _ := hex.DecodeString(v.wrapped)
		got, err := WrapKWP(kek, key)
		require.NoError(t, err)
		require.Equal(t, want, got)
		back, err := unwrapKWP(kek, want)
		require.NoError(t, err)
		require.Equal(t, key, back)
		bad := append([]byte(nil), want...)
		bad[len(bad)-1] ^= 1
		_, err = unwrapKWP(kek, bad)
		require.ErrorIs(t, err, ErrUnwrap)
	}
}

func TestUnwrapKeyMaterial(t *testing.T) {
	wrapping := generate(t, RSA2048)
	pub := wrapping.PublicKey().(*rsa.PublicKey)
	material := bytes.Repeat([]byte{7}, 32)
	big := bytes.Repeat([]byte{9}, 1200) // an RSA private key is too big for plain OAEP
	for _, alg := range WrappingAlgorithms() {
		if alg == WrapSM2PKE {
			continue // TestUnwrapSM2PKE
		}
		w, err := WrapKeyMaterial(pub, alg, material, rand.Reader)
		require.NoError(t, err)
		got, err := wrapping.UnwrapKeyMaterial(alg, w)
		require.NoError(t, err, alg)
		require.Equal(t, material, got)
		w[len(w)-1] ^= 1
		_, err = wrapping.UnwrapKeyMaterial(alg, w)
		require.ErrorIs(t, err, ErrUnwrap, alg)
	}
	w, err := WrapKeyMaterial(pub, WrapRSAAESKeyWrapSHA256, big, rand.Reader)
	require.NoError(t, err)
	got, err := wrapping.UnwrapKeyMaterial(WrapRSAAESKeyWrapSHA256, w)
	require.NoError(t, err)
	require.Equal(t, big, got)
	w, _ = WrapKeyMaterial(pub, WrapRSAESOAEPSHA1, material, rand.Reader)
	_, err = wrapping.UnwrapKeyMaterial(WrapRSAESOAEPSHA256, w)
	require.ErrorIs(t, err, ErrUnwrap)
}
