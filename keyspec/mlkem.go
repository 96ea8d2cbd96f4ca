package keyspec

import (
	"crypto/mlkem"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
)

// ML-KEM (FIPS 203) keys for AWS's ENCAPSULATE_DECAPSULATE usage. Go's
// crypto/mlkem implements ML-KEM-768 and ML-KEM-1024; circl implements
// ML-KEM-512, which the standard library lacks. A key is stored as its
// 64-byte seed d||z (FIPS 203's KeyGen_internal input), the form AWS's
// data key pairs return, from which both libraries derive the same key.

// MLKEMSeedSize is the size of an ML-KEM seed, d||z.
const MLKEMSeedSize = mlkem.SeedSize

// ML-KEM shared secrets are 32 bytes for every parameter set.
const MLKEMSharedSecretSize = mlkem.SharedKeySize

var (
	// id-alg-ml-kem-512/768/1024 (NIST CSOR; RFC 9935's SubjectPublicKeyInfo
	// and PKCS#8 forms), with absent parameters.
	mlkemOIDs = map[string]asn1.ObjectIdentifier{
		MLKEM512:  {2, 16, 840, 1, 101, 3, 4, 4, 1},
		MLKEM768:  {2, 16, 840, 1, 101, 3, 4, 4, 2},
		MLKEM1024: {2, 16, 840, 1, 101, 3, 4, 4, 3},
	}
	// mlkemCiphertextSizes are FIPS 203's ciphertext sizes, which AWS's
	// Decapsulate documents: 768, 1088 and 1568 bytes.
	mlkemCiphertextSizes = map[string]int{MLKEM512: mlkem512.CiphertextSize, MLKEM768: mlkem.CiphertextSize768, MLKEM1024: mlkem.CiphertextSize1024}
)

// kemKey is one ML-KEM decapsulation key, in whichever library has it.
type kemKey interface {
	encapsulationKey() []byte
	encapsulate(rand io.Reader) (secret, ciphertext []byte, err error)
	decapsulate(ciphertext []byte) ([]byte, error)
}

type kem768 struct{ dk *mlkem.DecapsulationKey768 }

func (k kem768) encapsulationKey() []byte { return k.dk.EncapsulationKey().Bytes() }

// crypto/mlkem draws encapsulation randomness from crypto/rand itself.
func (k kem768) encapsulate(io.Reader) ([]byte, []byte, error) {
	secret, ct := k.dk.EncapsulationKey().Encapsulate()
	return secret, ct, nil
}
func (k kem768) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }

type kem1024 struct{ dk *mlkem.DecapsulationKey1024 }

func (k kem1024) encapsulationKey() []byte { return k.dk.EncapsulationKey().Bytes() }
func (k kem1024) encapsulate(io.Reader) ([]byte, []byte, error) {
	secret, ct := k.dk.EncapsulationKey().Encapsulate()
	return secret, ct, nil
}
func (k kem1024) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }

type kem512 struct {
	pk *mlkem512.PublicKey
	sk *mlkem512.PrivateKey
}

func (k kem512) encapsulationKey() []byte {
	b := make([]byte, mlkem512.PublicKeySize)
	k.pk.Pack(b)
	return b
}

func (k kem512) encapsulate(rand io.Reader) ([]byte, []byte, error) {
	m := make([]byte, mlkem512.EncapsulationSeedSize)
	if _, err := io.ReadFull(rand, m); err != nil {
		return nil, nil, err
	}
	ct, secret := make([]byte, mlkem512.CiphertextSize), make([]byte, mlkem512.SharedKeySize)
	k.pk.EncapsulateTo(ct, secret, m)
	return secret, ct, nil
}

func (k kem512) decapsulate(ct []byte) ([]byte, error) {
	secret := make([]byte, mlkem512.SharedKeySize)
	k.sk.DecapsulateTo(secret, ct)
	return secret, nil
}

func (s *Spec) parseMLKEMSeed(seed []byte) (*Key, error) {
	if len(seed) != MLKEMSeedSize {
		return nil, fmt.Errorf("%w: %s needs a %d-byte seed", ErrIncorrectMaterial, s.Name, MLKEMSeedSize)
	}
	k := &Key{Spec: s, seed: append([]byte(nil), seed...)}
	switch s.Name {
	case MLKEM512:
		pk, sk := mlkem512.NewKeyFromSeed(k.seed)
		k.kem = kem512{pk, sk}
	case MLKEM768:
		dk, err := mlkem.NewDecapsulationKey768(k.seed)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIncorrectMaterial, err)
		}
		k.kem = kem768{dk}
	case MLKEM1024:
		dk, err := mlkem.NewDecapsulationKey1024(k.seed)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIncorrectMaterial, err)
		}
		k.kem = kem1024{dk}
	default:
		return nil, fmt.Errorf("%s is not an ML-KEM key spec", s.Name)
	}
	return k, nil
}

// Encapsulate makes a fresh shared secret and its encapsulation (the
// ciphertext) to the key's encapsulation key.
func (k *Key) Encapsulate(rand io.Reader) (secret, ciphertext []byte, err error) {
	if k.kem == nil {
		return nil, nil, &InputError{Msg: fmt.Sprintf("a %s key does not encapsulate", k.Spec.Name)}
	}
	return k.kem.encapsulate(rand)
}

// Decapsulate recovers the shared secret from a ciphertext. ML-KEM rejects
// a wrong ciphertext implicitly (FIPS 203: it yields an unrelated secret);
// only a ciphertext of the wrong size is ErrDecrypt.
func (k *Key) Decapsulate(ciphertext []byte) ([]byte, error) {
	if k.kem == nil {
		return nil, &InputError{Msg: fmt.Sprintf("a %s key does not decapsulate", k.Spec.Name)}
	}
	if len(ciphertext) != mlkemCiphertextSizes[k.Spec.Name] {
		return nil, ErrDecrypt
	}
	secret, err := k.kem.decapsulate(ciphertext)
	if err != nil {
		return nil, ErrDecrypt
	}
	return secret, nil
}

// MLKEMCiphertextSize is FIPS 203's ciphertext size for the spec (0 if the
// spec is not ML-KEM).
func (s *Spec) MLKEMCiphertextSize() int { return mlkemCiphertextSizes[s.Name] }

// marshalMLKEMPKCS8 is the PKCS#8 PrivateKeyInfo of an ML-KEM key in seed
// form (RFC 9935: ML-KEM-PrivateKey's seed choice, [0] IMPLICIT OCTET
// STRING of 64 bytes), as AWS's data key pairs return it.
func (k *Key) marshalMLKEMPKCS8() ([]byte, error) {
	inner, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: k.seed})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8{Algo: pkix.AlgorithmIdentifier{Algorithm: mlkemOIDs[k.Spec.Name]}, PrivateKey: inner})
}

// ParseMLKEMPKCS8 reads the seed of an ML-KEM PKCS#8 private key in seed
// form, and names its spec.
func ParseMLKEMPKCS8(der []byte) (spec string, seed []byte, err error) {
	var p pkcs8
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		return "", nil, fmt.Errorf("%w: not a PKCS#8 private key", ErrIncorrectMaterial)
	}
	for name, oid := range mlkemOIDs {
		if p.Algo.Algorithm.Equal(oid) {
			spec = name
		}
	}
	var inner asn1.RawValue
	if spec == "" {
		return "", nil, fmt.Errorf("%w: not an ML-KEM private key", ErrIncorrectMaterial)
	}
	if rest, err := asn1.Unmarshal(p.PrivateKey, &inner); err != nil || len(rest) != 0 ||
		inner.Class != asn1.ClassContextSpecific || inner.Tag != 0 || len(inner.Bytes) != MLKEMSeedSize {
		return "", nil, fmt.Errorf("%w: not an ML-KEM private key in seed form", ErrIncorrectMaterial)
	}
	return spec, inner.Bytes, nil
}
