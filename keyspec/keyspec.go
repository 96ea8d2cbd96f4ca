// Package keyspec is the one place that knows AWS KMS's key specs, key
// usages, algorithms and limits. The plugin's handlers ask it; they never
// re-encode any of this knowledge themselves.
package keyspec

import (
	"fmt"
	"sort"
	"strings"
)

// KeyUsage is AWS KMS's KeyUsageType.
type KeyUsage string

const (
	EncryptDecrypt    KeyUsage = "ENCRYPT_DECRYPT"
	SignVerify        KeyUsage = "SIGN_VERIFY"
	GenerateVerifyMAC KeyUsage = "GENERATE_VERIFY_MAC"
	KeyAgreement      KeyUsage = "KEY_AGREEMENT"
	// EncapsulateDecapsulate is ML-KEM's usage.
	EncapsulateDecapsulate KeyUsage = "ENCAPSULATE_DECAPSULATE"
)

// Family groups specs that share a key representation and generator.
type Family int

const (
	FamilySymmetric Family = iota
	FamilyRSA
	FamilyECDSA // NIST P curves, through crypto/ecdsa
	FamilySecp256k1
	FamilyEd25519
	FamilyMLDSA
	FamilyMLKEM
	FamilySM2
	FamilyHMAC
)

// Spec describes one AWS KMS key spec.
type Spec struct {
	Name   string
	Family Family
	// Usages lists the key usages AWS allows for this spec, default first.
	Usages []KeyUsage
	// Bits is the RSA modulus size, the curve size, or the secret key size.
	Bits int
	// Encryption, Signing, MAC, KeyAgreement and Encapsulation hold the
	// algorithms the spec allows; which list applies depends on the usage.
	Encryption    []string
	Signing       []string
	MAC           []string
	KeyAgreement  []string
	Encapsulation []string
	// KeyPair reports whether the spec is also an AWS DataKeyPairSpec.
	KeyPair bool
}

// Key spec names.
const (
	SymmetricDefault = "SYMMETRIC_DEFAULT"
	RSA2048          = "RSA_2048"
	RSA3072          = "RSA_3072"
	RSA4096          = "RSA_4096"
	ECCNistP256      = "ECC_NIST_P256"
	ECCNistP384      = "ECC_NIST_P384"
	ECCNistP521      = "ECC_NIST_P521"
	ECCSecgP256K1    = "ECC_SECG_P256K1"
	ECCEd25519       = "ECC_NIST_EDWARDS25519"
	MLDSA44          = "ML_DSA_44"
	MLDSA65          = "ML_DSA_65"
	MLDSA87          = "ML_DSA_87"
	MLKEM512         = "ML_KEM_512"
	MLKEM768         = "ML_KEM_768"
	MLKEM1024        = "ML_KEM_1024"
	HMAC224          = "HMAC_224"
	HMAC256          = "HMAC_256"
	HMAC384          = "HMAC_384"
	HMAC512          = "HMAC_512"
)

var rsaEncryption = []string{AlgRSAESOAEPSHA1, AlgRSAESOAEPSHA256}
var rsaSigning = []string{
	AlgRSASSAPSSSHA256, AlgRSASSAPSSSHA384, AlgRSASSAPSSSHA512,
	AlgRSASSAPKCS1SHA256, AlgRSASSAPKCS1SHA384, AlgRSASSAPKCS1SHA512,
}

var specs = []*Spec{
	{Name: SymmetricDefault, Family: FamilySymmetric, Usages: []KeyUsage{EncryptDecrypt}, Bits: 256,
		Encryption: []string{AlgSymmetricDefault}},
	{Name: RSA2048, Family: FamilyRSA, Usages: []KeyUsage{EncryptDecrypt, SignVerify}, Bits: 2048,
		Encryption: rsaEncryption, Signing: rsaSigning, KeyPair: true},
	{Name: RSA3072, Family: FamilyRSA, Usages: []KeyUsage{EncryptDecrypt, SignVerify}, Bits: 3072,
		Encryption: rsaEncryption, Signing: rsaSigning, KeyPair: true},
	{Name: RSA4096, Family: FamilyRSA, Usages: []KeyUsage{EncryptDecrypt, SignVerify}, Bits: 4096,
		Encryption: rsaEncryption, Signing: rsaSigning, KeyPair: true},
	// AWS has no default usage for the NIST curves; SIGN_VERIFY comes first
	// so that a plain create gives the far more common signing key.
	{Name: ECCNistP256, Family: FamilyECDSA, Usages: []KeyUsage{SignVerify, KeyAgreement}, Bits: 256,
		Signing: []string{AlgECDSASHA256}, KeyAgreement: []string{AlgECDH}, KeyPair: true},
	{Name: ECCNistP384, Family: FamilyECDSA, Usages: []KeyUsage{SignVerify, KeyAgreement}, Bits: 384,
		Signing: []string{AlgECDSASHA384}, KeyAgreement: []string{AlgECDH}, KeyPair: true},
	{Name: ECCNistP521, Family: FamilyECDSA, Usages: []KeyUsage{SignVerify, KeyAgreement}, Bits: 521,
		Signing: []string{AlgECDSASHA512}, KeyAgreement: []string{AlgECDH}, KeyPair: true},
	{Name: ECCSecgP256K1, Family: FamilySecp256k1, Usages: []KeyUsage{SignVerify}, Bits: 256,
		Signing: []string{AlgECDSASHA256}, KeyPair: true},
	{Name: ECCEd25519, Family: FamilyEd25519, Usages: []KeyUsage{SignVerify}, Bits: 256,
		Signing: []string{AlgEd25519SHA512, AlgEd25519PHSHA512}, KeyPair: true},
	{Name: MLDSA44, Family: FamilyMLDSA, Usages: []KeyUsage{SignVerify}, Bits: 44,
		Signing: []string{AlgMLDSASHAKE256}},
	{Name: MLDSA65, Family: FamilyMLDSA, Usages: []KeyUsage{SignVerify}, Bits: 65,
		Signing: []string{AlgMLDSASHAKE256}},
	{Name: MLDSA87, Family: FamilyMLDSA, Usages: []KeyUsage{SignVerify}, Bits: 87,
		Signing: []string{AlgMLDSASHAKE256}},
	// AWS's China Regions.
	{Name: SM2, Family: FamilySM2, Usages: []KeyUsage{SignVerify, EncryptDecrypt, KeyAgreement}, Bits: 256,
		Encryption: []string{AlgSM2PKE}, Signing: []string{AlgSM2DSA}, KeyAgreement: []string{AlgECDH}, KeyPair: true},
	// AWS offers ML-KEM data key pairs, but no import into ML-KEM keys.
	{Name: MLKEM512, Family: FamilyMLKEM, Usages: []KeyUsage{EncapsulateDecapsulate}, Bits: 512,
		Encapsulation: []string{AlgMLKEM}, KeyPair: true},
	{Name: MLKEM768, Family: FamilyMLKEM, Usages: []KeyUsage{EncapsulateDecapsulate}, Bits: 768,
		Encapsulation: []string{AlgMLKEM}, KeyPair: true},
	{Name: MLKEM1024, Family: FamilyMLKEM, Usages: []KeyUsage{EncapsulateDecapsulate}, Bits: 1024,
		Encapsulation: []string{AlgMLKEM}, KeyPair: true},
	{Name: HMAC224, Family: FamilyHMAC, Usages: []KeyUsage{GenerateVerifyMAC}, Bits: 224,
		MAC: []string{AlgHMACSHA224}},
	{Name: HMAC256, Family: FamilyHMAC, Usages: []KeyUsage{GenerateVerifyMAC}, Bits: 256,
		MAC: []string{AlgHMACSHA256}},
	{Name: HMAC384, Family: FamilyHMAC, Usages: []KeyUsage{GenerateVerifyMAC}, Bits: 384,
		MAC: []string{AlgHMACSHA384}},
	{Name: HMAC512, Family: FamilyHMAC, Usages: []KeyUsage{GenerateVerifyMAC}, Bits: 512,
		MAC: []string{AlgHMACSHA512}},
}

var specByName = func() map[string]*Spec {
	m := make(map[string]*Spec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	return m
}()

// Lookup returns the spec with the given AWS name.
func Lookup(name string) (*Spec, bool) {
	s, ok := specByName[name]
	return s, ok
}

// Names lists every key spec, in the table's order.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// Usages lists every key usage.
func Usages() []KeyUsage {
	return []KeyUsage{EncryptDecrypt, SignVerify, GenerateVerifyMAC, KeyAgreement, EncapsulateDecapsulate}
}

// ParseUsage validates a key usage name.
func ParseUsage(name string) (KeyUsage, bool) {
	for _, u := range Usages() {
		if string(u) == name {
			return u, true
		}
	}
	return "", false
}

// DefaultUsage is the usage a key of this spec gets when none is given.
func (s *Spec) DefaultUsage() KeyUsage { return s.Usages[0] }

// Allows reports whether AWS allows the spec with the usage.
func (s *Spec) Allows(u KeyUsage) bool {
	for _, a := range s.Usages {
		if a == u {
			return true
		}
	}
	return false
}

// Symmetric reports whether the key material is a secret key (AES or HMAC)
// rather than a key pair.
func (s *Spec) Symmetric() bool {
	return s.Family == FamilySymmetric || s.Family == FamilyHMAC
}

// Algorithms is the set of algorithms a key of a given spec and usage offers,
// as AWS's DescribeKey reports them.
type Algorithms struct {
	Encryption    []string
	Signing       []string
	MAC           []string
	KeyAgreement  []string
	Encapsulation []string
}

// Algorithms returns what a key of this spec with usage u may use.
func (s *Spec) Algorithms(u KeyUsage) Algorithms {
	switch u {
	case EncryptDecrypt:
		return Algorithms{Encryption: s.Encryption}
	case SignVerify:
		return Algorithms{Signing: s.Signing}
	case GenerateVerifyMAC:
		return Algorithms{MAC: s.MAC}
	case KeyAgreement:
		return Algorithms{KeyAgreement: s.KeyAgreement}
	case EncapsulateDecapsulate:
		return Algorithms{Encapsulation: s.Encapsulation}
	}
	return Algorithms{}
}

// UsageError explains why a spec does not allow a usage, in AWS's words.
func (s *Spec) UsageError(u KeyUsage) string {
	allowed := make([]string, len(s.Usages))
	for i, a := range s.Usages {
		allowed[i] = string(a)
	}
	return fmt.Sprintf("key usage %s is not compatible with key spec %s; valid key usages: %s",
		u, s.Name, strings.Join(allowed, ", "))
}

// Importable reports whether key material of this spec can be imported:
// not for ML-KEM (AWS's import takes none) nor, here, for ML-DSA.
func (s *Spec) Importable() bool { return s.Family != FamilyMLKEM && s.Family != FamilyMLDSA }

// DataKeyPairSpecs lists the specs AWS accepts as DataKeyPairSpec.
func DataKeyPairSpecs() []string {
	var out []string
	for _, s := range specs {
		if s.KeyPair {
			out = append(out, s.Name)
		}
	}
	return out
}

// OneOf formats a list of valid values for an error message.
func OneOf(values []string) string {
	v := append([]string(nil), values...)
	sort.Strings(v)
	return strings.Join(v, ", ")
}

// Type is AWS's coarse key type: SYMMETRIC, HMAC or ASYMMETRIC. Aliases
// may only move between keys of the same type.
func (s *Spec) Type() string {
	switch s.Family {
	case FamilySymmetric:
		return "SYMMETRIC"
	case FamilyHMAC:
		return "HMAC"
	}
	return "ASYMMETRIC"
}

// CachedBytes is an upper estimate of the heap one parsed version of a key
// of this spec holds (measured in docs/SCALE.md: the live heap per cached
// key, rounded up). The plugin's key cache weighs entries with it, so its
// memory bound holds whatever the mix of specs: an ML-DSA key's expanded
// form is fifty times a symmetric key's.
func (s *Spec) CachedBytes() int {
	switch s.Family {
	case FamilyRSA:
		return s.Bits * 3 // 2048: ~6.8 KiB live; 4096: ~10.4 KiB
	case FamilyMLDSA:
		switch s.Bits {
		case 44:
			return 52 << 10
		case 65:
			return 77 << 10
		}
		return 110 << 10
	case FamilyMLKEM:
		return 10 << 10
	}
	return 2 << 10 // symmetric, HMAC and elliptic-curve keys: 1.1-1.9 KiB
}
