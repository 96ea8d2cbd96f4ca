package keyspec

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"
)

// awsUsages restates AWS's CreateKey rules independently of the table.
var awsUsages = map[string][]KeyUsage{
	"SYMMETRIC_DEFAULT":     {EncryptDecrypt},
	"RSA_2048":              {EncryptDecrypt, SignVerify},
	"RSA_3072":              {EncryptDecrypt, SignVerify},
	"RSA_4096":              {EncryptDecrypt, SignVerify},
	"ECC_NIST_P256":         {SignVerify, KeyAgreement},
	"ECC_NIST_P384":         {SignVerify, KeyAgreement},
	"ECC_NIST_P521":         {SignVerify, KeyAgreement},
	"ECC_SECG_P256K1":       {SignVerify},
	"ECC_NIST_EDWARDS25519": {SignVerify},
	"ML_DSA_44":             {SignVerify},
	"ML_DSA_65":             {SignVerify},
	"ML_DSA_87":             {SignVerify},
	"SM2":                   {SignVerify, EncryptDecrypt, KeyAgreement},
	"ML_KEM_512":            {EncapsulateDecapsulate},
	"ML_KEM_768":            {EncapsulateDecapsulate},
	"ML_KEM_1024":           {EncapsulateDecapsulate},
	"HMAC_224":              {GenerateVerifyMAC},
	"HMAC_256":              {GenerateVerifyMAC},
	"HMAC_384":              {GenerateVerifyMAC},
	"HMAC_512":              {GenerateVerifyMAC},
}

func TestSpecUsageMatrix(t *testing.T) {
	require.ElementsMatch(t, Names(), keysOf(awsUsages), "the table must list exactly AWS's key specs")
	for name, allowed := range awsUsages {
		spec, ok := Lookup(name)
		require.True(t, ok, name)
		for _, u := range Usages() {
			want := false
			for _, a := range allowed {
				want = want || a == u
			}
			require.Equal(t, want, spec.Allows(u), "%s with %s", name, u)
			if !want {
				require.Contains(t, spec.UsageError(u), name)
			}
		}
		require.True(t, spec.Allows(spec.DefaultUsage()), name)
	}
	_, ok := Lookup("RSA_1024")
	require.False(t, ok)
	_, ok = ParseUsage("ENCRYPT")
	require.False(t, ok)
}

func TestAlgorithmsPerUsage(t *testing.T) {
	rsa, _ := Lookup(RSA2048)
	require.Equal(t, []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}, rsa.Algorithms(EncryptDecrypt).Encryption)
	require.Empty(t, rsa.Algorithms(EncryptDecrypt).Signing)
	require.Len(t, rsa.Algorithms(SignVerify).Signing, 6)
	p384, _ := Lookup(ECCNistP384)
	require.Equal(t, []string{"ECDSA_SHA_384"}, p384.Algorithms(SignVerify).Signing)
	require.Equal(t, []string{"ECDH"}, p384.Algorithms(KeyAgreement).KeyAgreement)
	h, _ := Lookup(HMAC384)
	require.Equal(t, []string{"HMAC_SHA_384"}, h.Algorithms(GenerateVerifyMAC).MAC)
	for _, name := range Names() {
		spec, _ := Lookup(name)
		for _, alg := range spec.Signing {
			_, ok := LookupSigning(alg)
			require.True(t, ok, "%s lists unknown signing algorithm %s", name, alg)
		}
	}
}

func TestOAEPLimits(t *testing.T) {
	// AWS's published RSA OAEP plaintext limits.
	want := map[string][2]int{RSA2048: {214, 190}, RSA3072: {342, 318}, RSA4096: {470, 446}}
	for name, w := range want {
		spec, _ := Lookup(name)
		require.Equal(t, w[0], spec.MaxOAEPPlaintext(AlgRSAESOAEPSHA1), name)
		require.Equal(t, w[1], spec.MaxOAEPPlaintext(AlgRSAESOAEPSHA256), name)
	}
	sym, _ := Lookup(SymmetricDefault)
	require.Zero(t, sym.MaxOAEPPlaintext(AlgRSAESOAEPSHA1))
}

func TestDataKeyPairSpecs(t *testing.T) {
	require.ElementsMatch(t, []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
		"ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "SM2", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}, DataKeyPairSpecs())
}

// Every spec generates material that survives Marshal/Parse, and every
// asymmetric spec yields a well-formed SubjectPublicKeyInfo.
func TestGenerateRoundTrip(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			spec, _ := Lookup(name)
			k, err := spec.Generate(rand.Reader)
			require.NoError(t, err)
			raw, err := k.Marshal()
			require.NoError(t, err)
			back, err := spec.Parse(raw)
			require.NoError(t, err)
			require.True(t, k.Equal(back))
			other, err := spec.Generate(rand.Reader)
			require.NoError(t, err)
			require.False(t, k.Equal(other), "two generated keys must differ")

			der, err := k.PublicKeyDER()
			if spec.Symmetric() {
				require.Error(t, err)
				require.Len(t, raw, spec.Bits/8)
				return
			}
			require.NoError(t, err)
			var info struct {
				Algo struct{ Algorithm asn1.ObjectIdentifier }
				Key  asn1.BitString
			}
			rest, err := asn1.Unmarshal(der, &info)
			require.NoError(t, err)
			require.Empty(t, rest)
			switch spec.Family {
			case FamilyRSA, FamilyECDSA, FamilyEd25519:
				pub, err := x509.ParsePKIXPublicKey(der)
				require.NoError(t, err)
				require.NotNil(t, pub)
			case FamilySecp256k1:
				require.True(t, info.Algo.Algorithm.Equal(oidECPublicKey))
				require.Len(t, info.Key.Bytes, 65)
			case FamilyMLDSA:
				// id-ml-dsa-44/65/87 are 2.16.840.1.101.3.4.3.17/18/19.
				require.Equal(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, map[int]int{44: 17, 65: 18, 87: 19}[spec.Bits]}, info.Algo.Algorithm)
			}
		})
	}
}

func TestParseRejectsForeignMaterial(t *testing.T) {
	p256, _ := Lookup(ECCNistP256)
	p384, _ := Lookup(ECCNistP384)
	r2048, _ := Lookup(RSA2048)
	r3072, _ := Lookup(RSA3072)
	k1, _ := Lookup(ECCSecgP256K1)
	sym, _ := Lookup(SymmetricDefault)
	ed, _ := Lookup(ECCEd25519)

	marshal := func(s *Spec) []byte {
		k, err := s.Generate(rand.Reader)
		require.NoError(t, err)
		raw, err := k.Marshal()
		require.NoError(t, err)
		return raw
	}
	cases := []struct {
		spec     *Spec
		material []byte
	}{
		{p384, marshal(p256)},
		{r3072, marshal(r2048)},
		{p256, marshal(r2048)},
		{k1, marshal(p256)},
		{p256, marshal(k1)},
		{ed, marshal(p256)},
		{sym, make([]byte, 16)},
		{r2048, []byte("not der")},
		{k1, []byte{0x30, 0x00}},
	}
	for i, c := range cases {
		_, err := c.spec.Parse(c.material)
		require.ErrorIs(t, err, ErrIncorrectMaterial, "case %d (%s)", i, c.spec.Name)
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The algorithm names are AWS's: those of the pinned AWS SDK's enums.
func TestAWSAlgorithmNames(t *testing.T) {
	names := func(vals any) []string {
		var out []string
		v := reflect.ValueOf(vals)
		for i := range v.Len() {
			out = append(out, v.Index(i).String())
		}
		return out
	}
	require.ElementsMatch(t, names(types.EncryptionAlgorithmSpec("").Values()), AWSAlgorithms(KindEncryption))
	require.ElementsMatch(t, names(types.SigningAlgorithmSpec("").Values()), AWSAlgorithms(KindSigning))
	require.ElementsMatch(t, names(types.MacAlgorithmSpec("").Values()), AWSAlgorithms(KindMAC))
	require.ElementsMatch(t, names(types.KeyAgreementAlgorithmSpec("").Values()), AWSAlgorithms(KindKeyAgreement))
	require.ElementsMatch(t, names(types.EncapsulationAlgorithmSpec("").Values()), AWSAlgorithms(KindEncapsulation))
	// Every key spec, usage and data key pair spec AWS has.
	require.ElementsMatch(t, names(types.KeySpec("").Values()), Names())
	require.ElementsMatch(t, names(types.DataKeyPairSpec("").Values()), DataKeyPairSpecs())
	var usages []string
	for _, u := range Usages() {
		usages = append(usages, string(u))
	}
	require.ElementsMatch(t, names(types.KeyUsageType("").Values()), usages)
}
