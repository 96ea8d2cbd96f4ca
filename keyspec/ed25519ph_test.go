package keyspec

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"testing"

	circled "github.com/cloudflare/circl/sign/ed25519"
	"github.com/stretchr/testify/require"
)

// RFC 8032 section 7.3, the Ed25519ph test vector (message "abc").
const (
	rfc8032PhSeed = "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"
	rfc8032PhPub  = "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf"
	rfc8032PhMsg  = "616263"
	rfc8032PhSig  = "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41" +
		"31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// ED25519_PH_SHA_512 with MessageType DIGEST is Ed25519ph whose message is
// the submitted digest, as AWS documents ("the input is hashed twice: once
// by you and once by KMS"): for a document X the caller sends D =
// SHA-512(X), and the signature verifies as Ed25519ph(D), not Ed25519ph(X).
func TestEd25519phDigestIsHashedAgain(t *testing.T) {
	seed, msg, want := unhex(t, rfc8032PhSeed), unhex(t, rfc8032PhMsg), unhex(t, rfc8032PhSig)
	priv := ed25519.NewKeyFromSeed(seed)
	require.Equal(t, unhex(t, rfc8032PhPub), []byte(priv.Public().(ed25519.PublicKey)))

	// The vector itself, through both implementations: crypto/ed25519 takes
	// PH(M) = SHA-512(M) with Options{Hash: SHA512}; circl takes M.
	ph := sha512.Sum512(msg)
	sig, err := priv.Sign(nil, ph[:], &ed25519.Options{Hash: crypto.SHA512})
	require.NoError(t, err)
	require.Equal(t, want, sig)
	require.Equal(t, want, circled.SignPh(circled.NewKeyFromSeed(seed), msg, ""))

	spec, _ := Lookup(ECCEd25519)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	k, err := spec.Parse(der)
	require.NoError(t, err)
	alg, _ := LookupSigning(AlgEd25519PHSHA512)
	pub := circled.PublicKey(priv.Public().(ed25519.PublicKey))

	// D = SHA-512("abc") sent as DIGEST: the signature is Ed25519ph over D
	// (RFC 8032's algorithm with M = D), which an independent
	// implementation verifies; it is not the vector's signature over "abc",
	// which the submitted digest used as the prehash would give.
	d := ph[:]
	got, err := k.Sign(alg, d, MessageDigest, rand.Reader)
	require.NoError(t, err)
	require.NotEqual(t, want, got)
	require.True(t, circled.VerifyPh(pub, d, got, ""))
	require.False(t, circled.VerifyPh(pub, msg, got, ""))
	require.Equal(t, circled.SignPh(circled.NewKeyFromSeed(seed), d, ""), got, "Ed25519ph is deterministic")
	// crypto/ed25519 says the same: its prehash input is PH(D) = SHA-512(D).
	phd := sha512.Sum512(d)
	require.NoError(t, ed25519.VerifyWithOptions(priv.Public().(ed25519.PublicKey), phd[:], got, &ed25519.Options{Hash: crypto.SHA512}))
	require.Error(t, ed25519.VerifyWithOptions(priv.Public().(ed25519.PublicKey), d, got, &ed25519.Options{Hash: crypto.SHA512}))

	// Verify takes the same meaning: circl's Ed25519ph(D) verifies, the
	// vector's signature over "abc" does not.
	ok, err := k.Verify(alg, d, MessageDigest, circled.SignPh(circled.NewKeyFromSeed(seed), d, ""))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = k.Verify(alg, d, MessageDigest, want)
	require.NoError(t, err)
	require.False(t, ok)

	// RAW stays refused with ED25519_PH_SHA_512, as in AWS.
	_, err = k.Sign(alg, msg, MessageRaw, rand.Reader)
	require.Error(t, err)
}
