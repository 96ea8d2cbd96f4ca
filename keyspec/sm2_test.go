package keyspec

import (
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
)

// sm2Digest is SM2DSA's DIGEST message: e = SM3(ZA || M), ZA with AWS's
// default distinguishing ID.
func sm2Digest(t *testing.T, k *Key, msg []byte) []byte {
	za, err := sm2.CalculateZA(k.PublicKey().(*ecdsa.PublicKey), []byte("1234567812345678"))
	require.NoError(t, err)
	e := sm3.Sum(append(za, msg...))
	return e[:]
}

func TestSM2(t *testing.T) {
	spec, _ := Lookup(SM2)
	k, err := spec.Generate(rand.Reader)
	require.NoError(t, err)
	alg, _ := LookupSigning(AlgSM2DSA)

	// A RAW signature is a signature of e = SM3(ZA || M) with the default
	// ID: it verifies as the DIGEST form, and with gmsm's own verifier.
	sig, err := k.Sign(alg, []byte("pay 10"), MessageRaw, rand.Reader)
	require.NoError(t, err)
	ok, err := k.Verify(alg, sm2Digest(t, k, []byte("pay 10")), MessageDigest, sig)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, sm2.VerifyASN1WithSM2(k.PublicKey().(*ecdsa.PublicKey), []byte("1234567812345678"), []byte("pay 10"), sig))
	_, err = k.Sign(alg, make([]byte, 31), MessageDigest, rand.Reader)
	var in *InputError
	require.ErrorAs(t, err, &in)

	// SM2PKE: ASN.1 (GB/T 32918.4) ciphertext, at most 1024 bytes.
	ct, err := k.EncryptAsymmetric(AlgSM2PKE, []byte("secret"), rand.Reader)
	require.NoError(t, err)
	pt, err := k.DecryptAsymmetric(AlgSM2PKE, ct)
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), pt)
	_, err = k.EncryptAsymmetric(AlgSM2PKE, make([]byte, MaxSM2Plaintext+1), rand.Reader)
	require.ErrorAs(t, err, &in)
	ct[len(ct)-1] ^= 1
	_, err = k.DecryptAsymmetric(AlgSM2PKE, ct)
	require.ErrorIs(t, err, ErrDecrypt)

	// ECDH on the SM2 curve agrees both ways.
	other, err := spec.Generate(rand.Reader)
	require.NoError(t, err)
	pa, _ := k.PublicKeyDER()
	pb, _ := other.PublicKeyDER()
	ab, err := k.DeriveSharedSecret(pb)
	require.NoError(t, err)
	ba, err := other.DeriveSharedSecret(pa)
	require.NoError(t, err)
	require.Equal(t, ab, ba)
	require.Len(t, ab, 32)
	p256, _ := Lookup(ECCNistP256)
	nist, _ := p256.Generate(rand.Reader)
	pn, _ := nist.PublicKeyDER()
	_, err = k.DeriveSharedSecret(pn)
	require.ErrorAs(t, err, &in)

	// The storage form is PKCS#8 that gmsm reads back as the same key.
	der, err := k.Marshal()
	require.NoError(t, err)
	parsed, err := smx509.ParsePKCS8PrivateKey(der)
	require.NoError(t, err)
	require.True(t, parsed.(*sm2.PrivateKey).Equal(k.sm2))
	again, err := spec.Parse(der)
	require.NoError(t, err)
	require.True(t, again.Equal(k))
}
