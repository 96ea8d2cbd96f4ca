package keyspec

import (
	"crypto/ecdsa"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// SM2 (GB/T 32918), AWS's China-Regions key spec, with
// github.com/emmansun/gmsm: the most used maintained Go SM2/SM3 library
// the module proxy serves (pure Go, OpenSSL-compatible PKCS#8 and SPKI).
// SM2DSA signs with SM3 and AWS's default distinguishing ID,
// 1234567812345678 (GB/T 35276); SM2PKE ciphertext is GB/T 32918.4's
// ASN.1 form, C1C3C2.

// Algorithm names of SM2.
const (
	AlgSM2DSA = "SM2DSA"
	AlgSM2PKE = "SM2PKE"
)

// SM2 is AWS's SM2 key spec.
const SM2 = "SM2"

// MaxSM2Plaintext is AWS's SM2PKE plaintext limit.
const MaxSM2Plaintext = 1024

// sm2DigestSize is the size of an SM3 digest, SM2DSA's DIGEST message
// (e = SM3(ZA || M), computed by the caller).
const sm2DigestSize = 32

func generateSM2(rand io.Reader) (*sm2.PrivateKey, error) { return sm2.GenerateKey(rand) }

func marshalSM2(k *sm2.PrivateKey) ([]byte, error) { return smx509.MarshalPKCS8PrivateKey(k) }

func parseSM2(der []byte) (*sm2.PrivateKey, bool) {
	key, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, false
	}
	k, ok := key.(*sm2.PrivateKey)
	return k, ok
}

func (k *Key) sm2PublicKeyDER() ([]byte, error) { return smx509.MarshalPKIXPublicKey(&k.sm2.PublicKey) }

// sm2Sign signs a RAW message (ZA computed here with the default ID) or a
// DIGEST e.
func (k *Key) sm2Sign(d []byte, msgType string, rand io.Reader) ([]byte, error) {
	if msgType == MessageDigest {
		return sm2.SignASN1(rand, k.sm2, d, nil)
	}
	return k.sm2.SignWithSM2(rand, nil, d)
}

func (k *Key) sm2Verify(d []byte, msgType string, sig []byte) bool {
	if msgType == MessageDigest {
		return sm2.VerifyASN1(&k.sm2.PublicKey, d, sig)
	}
	return sm2.VerifyASN1WithSM2(&k.sm2.PublicKey, nil, d, sig)
}

func (k *Key) sm2Encrypt(plaintext []byte, rand io.Reader) ([]byte, error) {
	if len(plaintext) > MaxSM2Plaintext {
		return nil, inputErr("SM2PKE can encrypt at most %d bytes, got %d", MaxSM2Plaintext, len(plaintext))
	}
	return sm2.EncryptASN1(rand, &k.sm2.PublicKey, plaintext)
}

func (k *Key) sm2Decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := k.sm2.Decrypt(nil, ciphertext, sm2.ASN1DecrypterOpts)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// EncryptAsymmetric encrypts to an RSA or SM2 key with the algorithm.
func (k *Key) EncryptAsymmetric(alg string, plaintext []byte, rand io.Reader) ([]byte, error) {
	if alg == AlgSM2PKE && k.sm2 != nil {
		return k.sm2Encrypt(plaintext, rand)
	}
	return k.EncryptOAEP(alg, plaintext, rand)
}

// DecryptAsymmetric decrypts RSA OAEP or SM2PKE ciphertext; every failure
// is ErrDecrypt.
func (k *Key) DecryptAsymmetric(alg string, ciphertext []byte) ([]byte, error) {
	if alg == AlgSM2PKE && k.sm2 != nil {
		return k.sm2Decrypt(ciphertext)
	}
	return k.DecryptOAEP(alg, ciphertext)
}

// sm2ECDH is ECDH on the SM2 curve (the x coordinate of d*Q), as AWS's
// DeriveSharedSecret with an SM2 KEY_AGREEMENT key.
func (k *Key) sm2ECDH(peerSPKI []byte) ([]byte, error) {
	parsed, err := smx509.ParsePKIXPublicKey(peerSPKI)
	if err != nil {
		return nil, inputErr("public_key is not a DER SubjectPublicKeyInfo")
	}
	peer, ok := parsed.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(peer) {
		return nil, inputErr("public_key must be an SM2 key")
	}
	theirs, err := sm2.PublicKeyToECDH(peer)
	if err != nil {
		return nil, inputErr("public_key is not a valid point")
	}
	ours, err := ecdh.P256().NewPrivateKey(k.sm2.D.FillBytes(make([]byte, 32)))
	if err != nil {
		return nil, err
	}
	return ours.ECDH(theirs)
}
