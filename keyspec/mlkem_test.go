package keyspec

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/cloudflare/circl/kem"
	circl1024 "github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	circl512 "github.com/cloudflare/circl/kem/mlkem/mlkem512"
	circl768 "github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/stretchr/testify/require"
)

// encapsulationKeyOf takes the raw encapsulation key out of the SPKI.
func encapsulationKeyOf(t *testing.T, k *Key) []byte {
	der, err := k.PublicKeyDER()
	require.NoError(t, err)
	var s spki
	rest, err := asn1.Unmarshal(der, &s)
	require.NoError(t, err)
	require.Empty(t, rest)
	require.True(t, s.Algorithm.Algorithm.Equal(mlkemOIDs[k.Spec.Name]), "the SPKI names id-alg-ml-kem")
	require.Empty(t, s.Algorithm.Parameters.FullBytes, "parameters are absent")
	return s.PublicKey.Bytes
}

// FIPS 203 known answers: NIST's ACVP keyGen vectors (d, z → ek).
func TestMLKEMKnownAnswers(t *testing.T) {
	raw, err := os.ReadFile("testdata/mlkem-keygen.json")
	require.NoError(t, err)
	var kat struct {
		Tests []struct{ Spec, D, Z, EK string }
	}
	require.NoError(t, json.Unmarshal(raw, &kat))
	require.Len(t, kat.Tests, 6)
	for _, v := range kat.Tests {
		spec, ok := Lookup(v.Spec)
		require.True(t, ok, v.Spec)
		d, _ := hex.DecodeString(v.D)
		z, _ := hex.DecodeString(v.Z)
		want, _ := hex.DecodeString(v.EK)
		k, err := spec.Parse(append(d, z...))
		require.NoError(t, err)
		require.Equal(t, want, encapsulationKeyOf(t, k), "%s: the encapsulation key of NIST's seed", v.Spec)
		m, err := k.Marshal()
		require.NoError(t, err)
		require.Equal(t, append(d, z...), m, "the seed is what is stored")
	}
}

// Go's crypto/mlkem and circl derive the same keys from a seed, and each
// decapsulates what the other (and the plugin's key) encapsulates.
func TestMLKEMInterop(t *testing.T) {
	schemes := map[string]kem.Scheme{MLKEM512: circl512.Scheme(), MLKEM768: circl768.Scheme(), MLKEM1024: circl1024.Scheme()}
	for name, sch := range schemes {
		spec, _ := Lookup(name)
		k, err := spec.Generate(rand.Reader)
		require.NoError(t, err)
		seed, err := k.Marshal()
		require.NoError(t, err)
		pub, priv := sch.DeriveKeyPair(seed)
		ek, err := pub.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, ek, encapsulationKeyOf(t, k), name)

		// circl encapsulates to the plugin's public key; the plugin decapsulates.
		ct, secret, err := sch.Encapsulate(pub)
		require.NoError(t, err)
		got, err := k.Decapsulate(ct)
		require.NoError(t, err)
		require.Equal(t, secret, got, name)
		// The plugin encapsulates; circl decapsulates.
		secret, ct, err = k.Encapsulate(rand.Reader)
		require.NoError(t, err)
		require.Len(t, ct, spec.MLKEMCiphertextSize())
		got, err = sch.Decapsulate(priv, ct)
		require.NoError(t, err)
		require.Equal(t, secret, got, name)

		// Implicit rejection: a damaged ciphertext gives another secret; a
		// ciphertext of the wrong size is refused.
		ct[0] ^= 1
		other, err := k.Decapsulate(ct)
		require.NoError(t, err)
		require.False(t, bytes.Equal(secret, other))
		_, err = k.Decapsulate(ct[1:])
		require.ErrorIs(t, err, ErrDecrypt)

		// The data key pair form: PKCS#8 in seed form.
		p8, err := k.PrivateKeyPKCS8()
		require.NoError(t, err)
		gotSpec, gotSeed, err := ParseMLKEMPKCS8(p8)
		require.NoError(t, err)
		require.Equal(t, name, gotSpec)
		require.Equal(t, seed, gotSeed)
	}
	// And the standard library, for the parameter sets it has.
	k, err := mustLookup(MLKEM768).Generate(rand.Reader)
	require.NoError(t, err)
	seed, _ := k.Marshal()
	dk, err := mlkem.NewDecapsulationKey768(seed)
	require.NoError(t, err)
	require.Equal(t, dk.EncapsulationKey().Bytes(), encapsulationKeyOf(t, k))
	k, err = mustLookup(MLKEM1024).Generate(rand.Reader)
	require.NoError(t, err)
	seed, _ = k.Marshal()
	dk1024, err := mlkem.NewDecapsulationKey1024(seed)
	require.NoError(t, err)
	secret, ct := dk1024.EncapsulationKey().Encapsulate()
	got, err := k.Decapsulate(ct)
	require.NoError(t, err)
	require.Equal(t, secret, got)
}

func mustLookup(name string) *Spec {
	s, ok := Lookup(name)
	if !ok {
		panic(name)
	}
	return s
}
