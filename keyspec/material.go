package keyspec

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/emmansun/gmsm/sm2"

	"github.com/openkms/vault-plugin-kms/keyspec/internal/mldsa"
)

// ErrIncorrectMaterial is returned when key material does not fit its spec.
var ErrIncorrectMaterial = errors.New("key material does not match the key spec")

// Key is parsed key material of one spec. It is immutable once built, so a
// cache may share it between goroutines.
type Key struct {
	Spec *Spec

	secret []byte                // SYMMETRIC_DEFAULT and HMAC_*
	aead   cipher.AEAD           // SYMMETRIC_DEFAULT: AES-256-GCM, built once
	signer crypto.Signer         // RSA, NIST ECDSA, Ed25519
	k1     *secp256k1.PrivateKey // ECC_SECG_P256K1
	mldsa  sign.PrivateKey       // ML_DSA_*
	seed   []byte                // ML-DSA or ML-KEM seed, the form we store
	kem    kemKey                // ML_KEM_*
	sm2    *sm2.PrivateKey       // SM2
	// muKey is the same ML-DSA key in Go's implementation, which signs and
	// verifies an external mu (circl computes mu itself); built on first use.
	muKey func() (*mldsa.PrivateKey, error)
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	// id-ml-dsa-44/65/87 (NIST CSOR, RFC 9881). circl v1.6.1's Oid() drops
	// the ".3" (sigAlgs) arc, so we do not take the OIDs from it.
	mldsaOIDs = map[string]asn1.ObjectIdentifier{
		MLDSA44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		MLDSA65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		MLDSA87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
)

func (s *Spec) curve() elliptic.Curve {
	switch s.Name {
	case ECCNistP256:
		return elliptic.P256()
	case ECCNistP384:
		return elliptic.P384()
	case ECCNistP521:
		return elliptic.P521()
	}
	return nil
}

func (s *Spec) mldsaScheme() sign.Scheme {
	switch s.Name {
	case MLDSA44:
		return mldsa44.Scheme()
	case MLDSA65:
		return mldsa65.Scheme()
	case MLDSA87:
		return mldsa87.Scheme()
	}
	return nil
}

func (k *Key) initAEAD() error {
	if k.Spec.Family != FamilySymmetric {
		return nil
	}
	block, err := aes.NewCipher(k.secret)
	if err != nil {
		return err
	}
	k.aead, err = cipher.NewGCM(block)
	return err
}

// AEAD is the AES-256-GCM cipher of a SYMMETRIC_DEFAULT key.
func (k *Key) AEAD() cipher.AEAD { return k.aead }

// DeriveAEAD is AES-256-GCM under a key derived from a SYMMETRIC_DEFAULT
// key: HKDF-SHA256 (RFC 5869) with the key as input keying material, and
// the caller's salt and info, 32 bytes of output. A fresh random salt per
// message gives every message its own key, so the random-nonce bound of
// GCM (2^32 messages per key) no longer depends on how busy the key is.
func (k *Key) DeriveAEAD(salt, info []byte) (cipher.AEAD, error) {
	if k.Spec.Family != FamilySymmetric {
		return nil, fmt.Errorf("key spec %s has no AES key", k.Spec.Name)
	}
	dk, err := hkdf.Key(sha256.New, k.secret, salt, string(info), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SecretSize is the size in bytes of a symmetric or HMAC key of this spec.
func (s *Spec) SecretSize() int { return s.Bits / 8 }

// Generate creates fresh key material for the spec.
func (s *Spec) Generate(rand io.Reader) (*Key, error) {
	k := &Key{Spec: s}
	var err error
	switch s.Family {
	case FamilySymmetric, FamilyHMAC:
		k.secret = make([]byte, s.SecretSize())
		if _, err = io.ReadFull(rand, k.secret); err == nil {
			err = k.initAEAD()
		}
	case FamilyRSA:
		k.signer, err = rsa.GenerateKey(rand, s.Bits)
	case FamilyECDSA:
		k.signer, err = ecdsa.GenerateKey(s.curve(), rand)
	case FamilyEd25519:
		_, k.signer, err = ed25519.GenerateKey(rand)
	case FamilySecp256k1:
		// secp256k1.GeneratePrivateKeyFromRand rejection-samples a scalar.
		k.k1, err = secp256k1.GeneratePrivateKeyFromRand(rand)
	case FamilyMLDSA:
		seed := make([]byte, s.mldsaScheme().SeedSize())
		if _, err = io.ReadFull(rand, seed); err == nil {
			return s.parseMLDSASeed(seed)
		}
	case FamilySM2:
		k.sm2, err = generateSM2(rand)
	case FamilyMLKEM:
		seed := make([]byte, MLKEMSeedSize)
		if _, err = io.ReadFull(rand, seed); err == nil {
			return s.parseMLKEMSeed(seed)
		}
	default:
		err = fmt.Errorf("no generator for key spec %s", s.Name)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Marshal serialises the key material in its storage (and import) form:
// the raw secret for symmetric and HMAC keys, PKCS#8 DER for RSA and ECC
// keys, the 32-byte seed for ML-DSA keys and the 64-byte seed for ML-KEM.
func (k *Key) Marshal() ([]byte, error) {
	switch k.Spec.Family {
	case FamilySymmetric, FamilyHMAC:
		return append([]byte(nil), k.secret...), nil
	case FamilyMLDSA, FamilyMLKEM:
		return append([]byte(nil), k.seed...), nil
	case FamilySecp256k1:
		return marshalSecp256k1PKCS8(k.k1)
	case FamilySM2:
		return marshalSM2(k.sm2)
	default:
		return x509.MarshalPKCS8PrivateKey(k.signer)
	}
}

// Parse rebuilds a key of this spec from Marshal's output, and checks that
// the material really is a key of this spec.
func (s *Spec) Parse(material []byte) (*Key, error) {
	k := &Key{Spec: s}
	switch s.Family {
	case FamilySymmetric, FamilyHMAC:
		if len(material) != s.SecretSize() {
			return nil, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrIncorrectMaterial, s.Name, s.SecretSize(), len(material))
		}
		k.secret = append([]byte(nil), material...)
		return k, k.initAEAD()
	case FamilyMLDSA:
		return s.parseMLDSASeed(material)
	case FamilyMLKEM:
		return s.parseMLKEMSeed(material)
	case FamilySM2:
		if k.sm2, _ = parseSM2(material); k.sm2 == nil {
			return nil, fmt.Errorf("%w: not a PKCS#8 SM2 private key", ErrIncorrectMaterial)
		}
		return k, nil
	case FamilySecp256k1:
		priv, err := parseSecp256k1PKCS8(material)
		if err != nil {
			return nil, err
		}
		k.k1 = priv
		return k, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(material)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS#8 private key", ErrIncorrectMaterial)
	}
	switch priv := parsed.(type) {
	case *rsa.PrivateKey:
		if s.Family != FamilyRSA || priv.N.BitLen() != s.Bits {
			return nil, fmt.Errorf("%w: got an RSA key of %d bits for %s", ErrIncorrectMaterial, priv.N.BitLen(), s.Name)
		}
		priv.Precompute()
		k.signer = priv
	case *ecdsa.PrivateKey:
		if s.Family != FamilyECDSA || priv.Curve != s.curve() {
			return nil, fmt.Errorf("%w: got an EC key on %s for %s", ErrIncorrectMaterial, priv.Curve.Params().Name, s.Name)
		}
		k.signer = priv
	case ed25519.PrivateKey:
		if s.Family != FamilyEd25519 {
			return nil, fmt.Errorf("%w: got an Ed25519 key for %s", ErrIncorrectMaterial, s.Name)
		}
		k.signer = priv
	default:
		return nil, fmt.Errorf("%w: unsupported private key type for %s", ErrIncorrectMaterial, s.Name)
	}
	return k, nil
}

func (s *Spec) parseMLDSASeed(seed []byte) (*Key, error) {
	sch := s.mldsaScheme()
	if len(seed) != sch.SeedSize() {
		return nil, fmt.Errorf("%w: %s needs a %d-byte seed", ErrIncorrectMaterial, s.Name, sch.SeedSize())
	}
	_, priv := sch.DeriveKey(seed)
	seed = append([]byte(nil), seed...)
	return &Key{Spec: s, mldsa: priv, seed: seed,
		muKey: sync.OnceValues(func() (*mldsa.PrivateKey, error) { return mldsaMuKey(s.Name, seed) })}, nil
}

func mldsaMuKey(spec string, seed []byte) (*mldsa.PrivateKey, error) {
	switch spec {
	case MLDSA44:
		return mldsa.NewPrivateKey44(seed)
	case MLDSA65:
		return mldsa.NewPrivateKey65(seed)
	case MLDSA87:
		return mldsa.NewPrivateKey87(seed)
	}
	return nil, fmt.Errorf("%s is not an ML-DSA key spec", spec)
}

// PrivateKeyPKCS8 is the private key as AWS's data key pairs return it:
// PKCS#8 DER, for ML-KEM in seed form.
func (k *Key) PrivateKeyPKCS8() ([]byte, error) {
	if k.Spec.Family == FamilyMLKEM {
		return k.marshalMLKEMPKCS8()
	}
	return k.Marshal()
}

// Equal reports whether two keys hold the same material.
func (k *Key) Equal(o *Key) bool {
	if k.Spec != o.Spec {
		return false
	}
	a, err1 := k.Marshal()
	b, err2 := o.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// PublicKey returns the Go public key of an asymmetric key.
func (k *Key) PublicKey() crypto.PublicKey {
	switch {
	case k.signer != nil:
		return k.signer.Public()
	case k.k1 != nil:
		return k.k1.PubKey()
	case k.mldsa != nil:
		return k.mldsa.Public()
	case k.sm2 != nil:
		return &k.sm2.PublicKey
	}
	return nil
}

// PublicKeyDER returns the SubjectPublicKeyInfo (RFC 5280) of an asymmetric
// key, the form AWS's GetPublicKey returns.
func (k *Key) PublicKeyDER() ([]byte, error) {
	switch k.Spec.Family {
	case FamilySymmetric, FamilyHMAC:
		return nil, errors.New("symmetric keys have no public key")
	case FamilySecp256k1:
		return marshalSPKI(oidECPublicKey, oidSecp256k1, k.k1.PubKey().SerializeUncompressed())
	case FamilyMLDSA:
		raw, err := k.mldsa.Public().(sign.PublicKey).MarshalBinary()
		if err != nil {
			return nil, err
		}
		return marshalSPKI(mldsaOIDs[k.Spec.Name], nil, raw)
	case FamilyMLKEM:
		return marshalSPKI(mlkemOIDs[k.Spec.Name], nil, k.kem.encapsulationKey())
	case FamilySM2:
		return k.sm2PublicKeyDER()
	}
	return x509.MarshalPKIXPublicKey(k.signer.Public())
}

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// marshalSPKI builds a SubjectPublicKeyInfo for algorithms crypto/x509
// does not know (secp256k1, ML-DSA). A nil param leaves parameters absent,
// as RFC 9881 requires for ML-DSA.
func marshalSPKI(alg, param asn1.ObjectIdentifier, key []byte) ([]byte, error) {
	ai := pkix.AlgorithmIdentifier{Algorithm: alg}
	if param != nil {
		p, err := asn1.Marshal(param)
		if err != nil {
			return nil, err
		}
		ai.Parameters = asn1.RawValue{FullBytes: p}
	}
	return asn1.Marshal(spki{Algorithm: ai, PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)}})
}

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is RFC 5915's ECPrivateKey.
type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// marshalSecp256k1PKCS8 writes the PKCS#8 form OpenSSL reads and writes for
// secp256k1, which crypto/x509 does not support.
func marshalSecp256k1PKCS8(priv *secp256k1.PrivateKey) ([]byte, error) {
	pub := priv.PubKey().SerializeUncompressed()
	scalar := priv.Key.Bytes()
	inner, err := asn1.Marshal(ecPrivateKey{
		Version:    1,
		PrivateKey: scalar[:],
		PublicKey:  asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
	if err != nil {
		return nil, err
	}
	param, err := asn1.Marshal(oidSecp256k1)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8{
		Algo:       pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: param}},
		PrivateKey: inner,
	})
}

func parseSecp256k1PKCS8(der []byte) (*secp256k1.PrivateKey, error) {
	var p pkcs8
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: not a PKCS#8 private key", ErrIncorrectMaterial)
	}
	var curve asn1.ObjectIdentifier
	if !p.Algo.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("%w: not an EC private key", ErrIncorrectMaterial)
	}
	if _, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &curve); err != nil || !curve.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: EC key is not on secp256k1", ErrIncorrectMaterial)
	}
	var ec ecPrivateKey
	if _, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil || len(ec.PrivateKey) == 0 || len(ec.PrivateKey) > 32 {
		return nil, fmt.Errorf("%w: malformed EC private key", ErrIncorrectMaterial)
	}
	var scalar secp256k1.ModNScalar
	if overflow := scalar.SetByteSlice(ec.PrivateKey); overflow || scalar.IsZero() {
		return nil, fmt.Errorf("%w: secp256k1 scalar out of range", ErrIncorrectMaterial)
	}
	return secp256k1.NewPrivateKey(&scalar), nil
}
