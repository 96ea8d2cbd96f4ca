package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/openkms/vault-plugin-kms/keyspec/internal/mldsa"
)

// InputError is a problem with the caller's input (a message of the wrong
// length, a peer key on the wrong curve); the plugin reports it as a
// ValidationException.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// digest turns a message into what the algorithm signs: for RAW, the hash
// of the message (or the message itself for pure Ed25519 and ML-DSA); for
// DIGEST, the digest after checking its length.
func (a *SigningAlgorithm) digest(msg []byte, msgType string) ([]byte, error) {
	if !a.AcceptsMessageType(msgType) {
		return nil, inputErr("message type %s is not valid with %s; valid message types: %s", msgType, a.Name, OneOf(a.MessageTypes))
	}
	switch msgType {
	case MessageRaw:
		if len(msg) > MaxMessage {
			return nil, inputErr("a RAW message can be at most %d bytes", MaxMessage)
		}
		if a.scheme == schemeEd25519 || a.scheme == schemeMLDSA || a.scheme == schemeSM2 {
			return msg, nil // hashed by the scheme itself
		}
		h := a.Hash.New()
		h.Write(msg)
		return h.Sum(nil), nil
	case MessageDigest:
		if a.scheme == schemeSM2 {
			if len(msg) != sm2DigestSize {
				return nil, inputErr("a DIGEST message for %s must be the %d-byte SM3 digest of ZA || M, got %d bytes", a.Name, sm2DigestSize, len(msg))
			}
			return msg, nil
		}
		if len(msg) != a.Hash.Size() {
			return nil, inputErr("a DIGEST message for %s must be %d bytes, got %d", a.Name, a.Hash.Size(), len(msg))
		}
		if a.scheme == schemeEd25519ph {
			// AWS's Sign reference: with ED25519_PH_SHA_512 and DIGEST, KMS
			// "still performs the SHA-512 prehash described in Step 1 of
			// Section 7.8.1 in FIPS 186-5 ... the input is hashed twice:
			// once by you and once by KMS". So the 64-byte digest D the
			// caller sends is the message M of Ed25519ph (RFC 8032 5.1):
			// the signature is Ed25519ph(D), whose prehash is PH(D) =
			// SHA-512(D), and for a document X with D = SHA-512(X) it is
			// Ed25519ph over SHA-512(X), not Ed25519ph(X). crypto/ed25519
			// takes PH(M) with Options{Hash: SHA512}, so hash D once more.
			ph := sha512.Sum512(msg)
			return ph[:], nil
		}
		return msg, nil
	case MessageExternalMu:
		// mu = SHAKE256(SHAKE256(pk, 64) || 0 || len(ctx) || ctx || M, 64),
		// FIPS 204's message representative, computed by the caller.
		if len(msg) != ExternalMuLength {
			return nil, inputErr("an EXTERNAL_MU message must be %d bytes, got %d", ExternalMuLength, len(msg))
		}
		return msg, nil
	}
	return nil, inputErr("unknown message type %q", msgType)
}

// Sign signs a message with the algorithm. The caller has checked that the
// algorithm is one the key's spec allows.
func (k *Key) Sign(a *SigningAlgorithm, msg []byte, msgType string, rand io.Reader) ([]byte, error) {
	d, err := a.digest(msg, msgType)
	if err != nil {
		return nil, err
	}
	switch a.scheme {
	case schemePSS:
		return rsa.SignPSS(rand, k.signer.(*rsa.PrivateKey), a.Hash, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case schemePKCS1:
		return rsa.SignPKCS1v15(rand, k.signer.(*rsa.PrivateKey), a.Hash, d)
	case schemeECDSA:
		if k.k1 != nil {
			// RFC 6979 deterministic nonces; DER output as AWS returns.
			return k1ecdsa.Sign(k.k1, d).Serialize(), nil
		}
		return ecdsa.SignASN1(rand, k.signer.(*ecdsa.PrivateKey), d)
	case schemeEd25519:
		return ed25519.Sign(k.signer.(ed25519.PrivateKey), d), nil
	case schemeEd25519ph:
		return k.signer.(ed25519.PrivateKey).Sign(nil, d, &ed25519.Options{Hash: crypto.SHA512})
	case schemeMLDSA:
		if msgType == MessageExternalMu {
			priv, err := k.muKey()
			if err != nil {
				return nil, err
			}
			return mldsa.SignExternalMu(priv, d)
		}
		return k.Spec.mldsaScheme().Sign(k.mldsa, d, nil), nil
	case schemeSM2:
		return k.sm2Sign(d, msgType, rand)
	}
	return nil, fmt.Errorf("no signer for %s", a.Name)
}

// Verify reports whether sig is a valid signature of msg.
func (k *Key) Verify(a *SigningAlgorithm, msg []byte, msgType string, sig []byte) (bool, error) {
	d, err := a.digest(msg, msgType)
	if err != nil {
		return false, err
	}
	switch a.scheme {
	case schemePSS:
		pub := k.PublicKey().(*rsa.PublicKey)
		return rsa.VerifyPSS(pub, a.Hash, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil, nil
	case schemePKCS1:
		return rsa.VerifyPKCS1v15(k.PublicKey().(*rsa.PublicKey), a.Hash, d, sig) == nil, nil
	case schemeECDSA:
		if k.k1 != nil {
			s, err := k1ecdsa.ParseDERSignature(sig)
			return err == nil && s.Verify(d, k.k1.PubKey()), nil
		}
		return ecdsa.VerifyASN1(k.PublicKey().(*ecdsa.PublicKey), d, sig), nil
	case schemeEd25519:
		return ed25519.Verify(k.PublicKey().(ed25519.PublicKey), d, sig), nil
	case schemeEd25519ph:
		return ed25519.VerifyWithOptions(k.PublicKey().(ed25519.PublicKey), d, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil, nil
	case schemeMLDSA:
		if msgType == MessageExternalMu {
			priv, err := k.muKey()
			if err != nil {
				return false, err
			}
			return mldsa.VerifyExternalMu(priv.PublicKey(), d, sig) == nil, nil
		}
		return k.Spec.mldsaScheme().Verify(k.mldsa.Public().(sign.PublicKey), d, sig, nil), nil
	case schemeSM2:
		return k.sm2Verify(d, msgType, sig), nil
	}
	return false, fmt.Errorf("no verifier for %s", a.Name)
}

// EncryptOAEP encrypts to an RSA key with RSAES_OAEP_SHA_1 or _SHA_256.
func (k *Key) EncryptOAEP(alg string, plaintext []byte, rand io.Reader) ([]byte, error) {
	max := k.Spec.MaxOAEPPlaintext(alg)
	if max == 0 {
		return nil, inputErr("%s is not an RSA encryption algorithm", alg)
	}
	if len(plaintext) > max {
		return nil, inputErr("%s with %s can encrypt at most %d bytes, got %d", k.Spec.Name, alg, max, len(plaintext))
	}
	return rsa.EncryptOAEP(oaepHashes[alg].New(), rand, k.PublicKey().(*rsa.PublicKey), plaintext, nil)
}

// ErrDecrypt is every RSA decryption failure; OAEP errors must not tell a
// caller more than that (they would be a padding oracle).
var ErrDecrypt = errors.New("decryption failed")

// DecryptOAEP decrypts RSA OAEP ciphertext.
func (k *Key) DecryptOAEP(alg string, ciphertext []byte) ([]byte, error) {
	h, ok := oaepHashes[alg]
	if !ok || k.Spec.Family != FamilyRSA {
		return nil, inputErr("%s is not an RSA encryption algorithm", alg)
	}
	pt, err := rsa.DecryptOAEP(h.New(), nil, k.signer.(*rsa.PrivateKey), ciphertext, nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// MAC computes an HMAC with the key.
func (k *Key) MAC(alg string, msg []byte) ([]byte, error) {
	h, ok := macHashes[alg]
	if !ok || k.Spec.Family != FamilyHMAC {
		return nil, inputErr("%s is not an HMAC algorithm", alg)
	}
	if len(msg) < 1 || len(msg) > MaxMessage {
		return nil, inputErr("message must be 1 to %d bytes", MaxMessage)
	}
	m := hmac.New(h.New, k.secret)
	m.Write(msg)
	return m.Sum(nil), nil
}

// VerifyMAC compares in constant time.
func (k *Key) VerifyMAC(alg string, msg, mac []byte) (bool, error) {
	want, err := k.MAC(alg, msg)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, mac), nil
}

// DeriveSharedSecret runs ECDH between the key and a peer's public key,
// given as SubjectPublicKeyInfo DER. It returns the raw shared secret (the
// x coordinate), as AWS's DeriveSharedSecret does.
func (k *Key) DeriveSharedSecret(peerSPKI []byte) ([]byte, error) {
	if k.sm2 != nil {
		return k.sm2ECDH(peerSPKI)
	}
	priv, ok := k.signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, inputErr("%s keys cannot derive shared secrets", k.Spec.Name)
	}
	parsed, err := x509.ParsePKIXPublicKey(peerSPKI)
	if err != nil {
		return nil, inputErr("public_key is not a DER SubjectPublicKeyInfo on a NIST curve")
	}
	peer, ok := parsed.(*ecdsa.PublicKey)
	if !ok || peer.Curve != priv.Curve {
		return nil, inputErr("public_key must be an EC key on the curve of %s", k.Spec.Name)
	}
	ours, err := priv.ECDH()
	if err != nil {
		return nil, err
	}
	theirs, err := peer.ECDH()
	if err != nil {
		return nil, inputErr("public_key is not a valid point")
	}
	return ours.ECDH(theirs)
}
