package keyspec

import "crypto"

// Algorithm names, as AWS KMS spells them.
const (
	AlgSymmetricDefault = "SYMMETRIC_DEFAULT"
	AlgRSAESOAEPSHA1    = "RSAES_OAEP_SHA_1"
	AlgRSAESOAEPSHA256  = "RSAES_OAEP_SHA_256"

	AlgRSASSAPSSSHA256   = "RSASSA_PSS_SHA_256"
	AlgRSASSAPSSSHA384   = "RSASSA_PSS_SHA_384"
	AlgRSASSAPSSSHA512   = "RSASSA_PSS_SHA_512"
	AlgRSASSAPKCS1SHA256 = "RSASSA_PKCS1_V1_5_SHA_256"
	AlgRSASSAPKCS1SHA384 = "RSASSA_PKCS1_V1_5_SHA_384"
	AlgRSASSAPKCS1SHA512 = "RSASSA_PKCS1_V1_5_SHA_512"
	AlgECDSASHA256       = "ECDSA_SHA_256"
	AlgECDSASHA384       = "ECDSA_SHA_384"
	AlgECDSASHA512       = "ECDSA_SHA_512"
	AlgEd25519SHA512     = "ED25519_SHA_512"
	AlgEd25519PHSHA512   = "ED25519_PH_SHA_512"
	AlgMLDSASHAKE256     = "ML_DSA_SHAKE_256"

	AlgHMACSHA224 = "HMAC_SHA_224"
	AlgHMACSHA256 = "HMAC_SHA_256"
	AlgHMACSHA384 = "HMAC_SHA_384"
	AlgHMACSHA512 = "HMAC_SHA_512"

	AlgECDH = "ECDH"

	AlgMLKEM = "ML_KEM"
)

// Algorithm kinds, as the request members that name an algorithm.
const (
	KindEncryption    = "encryption"
	KindSigning       = "signing"
	KindMAC           = "MAC"
	KindKeyAgreement  = "key agreement"
	KindEncapsulation = "encapsulation"
)

// awsAlgorithms is every algorithm name AWS KMS defines, by kind, those no
// key spec here offers (SM2) included: naming one a key does not offer is
// a key usage error, naming none of them an input error.
var awsAlgorithms = map[string][]string{
	KindEncryption: {AlgSymmetricDefault, AlgRSAESOAEPSHA1, AlgRSAESOAEPSHA256, AlgSM2PKE},
	KindSigning: {AlgRSASSAPSSSHA256, AlgRSASSAPSSSHA384, AlgRSASSAPSSSHA512, AlgRSASSAPKCS1SHA256, AlgRSASSAPKCS1SHA384,
		AlgRSASSAPKCS1SHA512, AlgECDSASHA256, AlgECDSASHA384, AlgECDSASHA512, AlgEd25519SHA512, AlgEd25519PHSHA512, AlgMLDSASHAKE256, AlgSM2DSA},
	KindMAC:           {AlgHMACSHA224, AlgHMACSHA256, AlgHMACSHA384, AlgHMACSHA512},
	KindKeyAgreement:  {AlgECDH},
	KindEncapsulation: {AlgMLKEM},
}

// AWSAlgorithms returns every algorithm name AWS KMS defines of a kind.
func AWSAlgorithms(kind string) []string { return awsAlgorithms[kind] }

// IsAWSAlgorithm reports whether AWS KMS defines the algorithm of that kind.
func IsAWSAlgorithm(kind, name string) bool { return Contains(awsAlgorithms[kind], name) }

// Message types for Sign and Verify.
const (
	MessageRaw        = "RAW"
	MessageDigest     = "DIGEST"
	MessageExternalMu = "EXTERNAL_MU"
)

// AWS KMS limits.
const (
	MaxPlaintext     = 4096 // Encrypt plaintext, bytes
	MaxCiphertext    = 6144 // Decrypt ciphertext blob, bytes
	MaxMessage       = 4096 // Sign/Verify/GenerateMac message, bytes
	MaxRandom        = 1024 // GenerateRandom and data key bytes
	MaxGrantTokens   = 10
	MaxTags          = 50
	MaxTagKey        = 128
	MaxTagValue      = 256
	MaxAliasName     = 256
	MaxDescription   = 8192
	MinPendingWindow = 7
	MaxPendingWindow = 30
	MaxListLimit     = 1000
	DefaultListLimit = 100
	ExternalMuLength = 64
	MaxContextPairs  = 64 // our limit; AWS bounds the context's total size instead
	MaxContextBytes  = 8192

	MinRotationDays      = 90
	MaxRotationDays      = 2560
	DefaultRotationDays  = 365
	MaxOnDemandRotations = 25 // AWS's fixed quota per key
)

type sigScheme int

const (
	schemePSS sigScheme = iota
	schemePKCS1
	schemeECDSA
	schemeEd25519
	schemeEd25519ph
	schemeMLDSA
	schemeSM2
)

// SigningAlgorithm describes one AWS signing algorithm.
type SigningAlgorithm struct {
	Name   string
	Hash   crypto.Hash // zero for ML-DSA, whose hash is internal
	scheme sigScheme
	// MessageTypes lists the message types AWS accepts with the algorithm.
	MessageTypes []string
}

var signingAlgorithms = map[string]*SigningAlgorithm{
	AlgRSASSAPSSSHA256:   {AlgRSASSAPSSSHA256, crypto.SHA256, schemePSS, rawOrDigest},
	AlgRSASSAPSSSHA384:   {AlgRSASSAPSSSHA384, crypto.SHA384, schemePSS, rawOrDigest},
	AlgRSASSAPSSSHA512:   {AlgRSASSAPSSSHA512, crypto.SHA512, schemePSS, rawOrDigest},
	AlgRSASSAPKCS1SHA256: {AlgRSASSAPKCS1SHA256, crypto.SHA256, schemePKCS1, rawOrDigest},
	AlgRSASSAPKCS1SHA384: {AlgRSASSAPKCS1SHA384, crypto.SHA384, schemePKCS1, rawOrDigest},
	AlgRSASSAPKCS1SHA512: {AlgRSASSAPKCS1SHA512, crypto.SHA512, schemePKCS1, rawOrDigest},
	AlgECDSASHA256:       {AlgECDSASHA256, crypto.SHA256, schemeECDSA, rawOrDigest},
	AlgECDSASHA384:       {AlgECDSASHA384, crypto.SHA384, schemeECDSA, rawOrDigest},
	AlgECDSASHA512:       {AlgECDSASHA512, crypto.SHA512, schemeECDSA, rawOrDigest},
	AlgEd25519SHA512:     {AlgEd25519SHA512, crypto.SHA512, schemeEd25519, []string{MessageRaw}},
	AlgEd25519PHSHA512:   {AlgEd25519PHSHA512, crypto.SHA512, schemeEd25519ph, []string{MessageDigest}},
	AlgMLDSASHAKE256:     {AlgMLDSASHAKE256, 0, schemeMLDSA, []string{MessageRaw, MessageExternalMu}},
	AlgSM2DSA:            {AlgSM2DSA, 0, schemeSM2, rawOrDigest}, // SM3, which crypto.Hash lacks
}

var rawOrDigest = []string{MessageRaw, MessageDigest}

// LookupSigning returns the named signing algorithm.
func LookupSigning(name string) (*SigningAlgorithm, bool) {
	a, ok := signingAlgorithms[name]
	return a, ok
}

// AcceptsMessageType reports whether the algorithm takes that message type.
func (a *SigningAlgorithm) AcceptsMessageType(t string) bool {
	for _, m := range a.MessageTypes {
		if m == t {
			return true
		}
	}
	return false
}

// macHashes maps HMAC algorithms to their hash.
var macHashes = map[string]crypto.Hash{
	AlgHMACSHA224: crypto.SHA224,
	AlgHMACSHA256: crypto.SHA256,
	AlgHMACSHA384: crypto.SHA384,
	AlgHMACSHA512: crypto.SHA512,
}

// oaepHashes maps RSA encryption algorithms to their OAEP hash.
var oaepHashes = map[string]crypto.Hash{
	AlgRSAESOAEPSHA1:   crypto.SHA1,
	AlgRSAESOAEPSHA256: crypto.SHA256,
}

// Contains reports whether list holds name.
func Contains(list []string, name string) bool {
	for _, v := range list {
		if v == name {
			return true
		}
	}
	return false
}

// MaxOAEPPlaintext is the largest plaintext an RSA key of this spec can
// encrypt with the algorithm: k - 2*hLen - 2 (RFC 8017, 7.1.1). It returns 0
// when the algorithm is not an RSA encryption algorithm.
func (s *Spec) MaxOAEPPlaintext(alg string) int {
	h, ok := oaepHashes[alg]
	if !ok || s.Family != FamilyRSA {
		return 0
	}
	return s.Bits/8 - 2*h.Size() - 2
}

// DataKeySpecs maps AWS's DataKeySpec values to their sizes in bytes.
var DataKeySpecs = map[string]int{"AES_128": 16, "AES_256": 32}
