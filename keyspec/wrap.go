package keyspec

import (
	"crypto"
	"crypto/aes"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"io"
)

// Wrapping algorithms for importing key material (GetParametersForImport).
const (
	WrapRSAESOAEPSHA1       = "RSAES_OAEP_SHA_1"
	WrapRSAESOAEPSHA256     = "RSAES_OAEP_SHA_256"
	WrapRSAAESKeyWrapSHA1   = "RSA_AES_KEY_WRAP_SHA_1"
	WrapRSAAESKeyWrapSHA256 = "RSA_AES_KEY_WRAP_SHA_256"
	// WrapSM2PKE is SM2 public key encryption (GB/T 32918.4, ASN.1
	// C1C3C2) of the material, with an SM2 wrapping key (AWS China).
	WrapSM2PKE = "SM2PKE"
)

var wrappingHashes = map[string]crypto.Hash{
	WrapRSAESOAEPSHA1:       crypto.SHA1,
	WrapRSAESOAEPSHA256:     crypto.SHA256,
	WrapRSAAESKeyWrapSHA1:   crypto.SHA1,
	WrapRSAAESKeyWrapSHA256: crypto.SHA256,
}

// WrappingAlgorithms and WrappingKeySpecs list what AWS accepts.
func WrappingAlgorithms() []string {
	return []string{WrapRSAESOAEPSHA1, WrapRSAESOAEPSHA256, WrapRSAAESKeyWrapSHA1, WrapRSAAESKeyWrapSHA256, WrapSM2PKE}
}

func WrappingKeySpecs() []string { return []string{RSA2048, RSA3072, RSA4096, SM2} }

// WrappingPairOK reports whether a wrapping algorithm goes with a wrapping
// key spec: SM2PKE with SM2 only, the RSA algorithms with RSA keys only.
func WrappingPairOK(spec, alg string) bool {
	return (spec == SM2) == (alg == WrapSM2PKE)
}

// ImportTokenValidity is how long import parameters stay valid (AWS: 24h).
const ImportTokenValidityHours = 24

// ErrUnwrap is every failure to unwrap imported key material.
var ErrUnwrap = errors.New("the key material could not be unwrapped with the wrapping key")

// UnwrapKeyMaterial opens key material wrapped to an RSA wrapping key:
// RSAES_OAEP_* is plain OAEP; RSA_AES_KEY_WRAP_* is an OAEP-wrapped
// ephemeral AES-256 key followed by the material wrapped with it by AES key
// wrap with padding (RFC 5649), as AWS and OpenSSL's id-aes256-wrap-pad do.
func (k *Key) UnwrapKeyMaterial(alg string, wrapped []byte) ([]byte, error) {
	if alg == WrapSM2PKE && k.sm2 != nil {
		out, err := k.sm2Decrypt(wrapped)
		if err != nil {
			return nil, ErrUnwrap
		}
		return out, nil
	}
	h, ok := wrappingHashes[alg]
	priv, isRSA := k.signer.(*rsa.PrivateKey)
	if !ok || !isRSA {
		return nil, inputErr("unknown wrapping algorithm %q", alg)
	}
	switch alg {
	case WrapRSAESOAEPSHA1, WrapRSAESOAEPSHA256:
		out, err := rsa.DecryptOAEP(h.New(), nil, priv, wrapped, nil)
		if err != nil {
			return nil, ErrUnwrap
		}
		return out, nil
	}
	n := priv.Size()
	if len(wrapped) <= n {
		return nil, ErrUnwrap
	}
	aesKey, err := rsa.DecryptOAEP(h.New(), nil, priv, wrapped[:n], nil)
	if err != nil || len(aesKey) != 32 {
		return nil, ErrUnwrap
	}
	return unwrapKWP(aesKey, wrapped[n:])
}

var kwpIV = []byte{0xA6, 0x59, 0x59, 0xA6}

// unwrapKWP is RFC 5649 key unwrap with padding.
func unwrapKWP(kek, c []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil || len(c) < 16 || len(c)%8 != 0 {
		return nil, ErrUnwrap
	}
	n := len(c)/8 - 1
	var a [8]byte
	r := make([]byte, 8*n)
	buf := make([]byte, 16)
	if n == 1 {
		block.Decrypt(buf, c)
		copy(a[:], buf[:8])
		copy(r, buf[8:])
	} else {
		copy(a[:], c[:8])
		copy(r, c[8:])
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a[:])^t)
				copy(buf[8:], r[(i-1)*8:i*8])
				block.Decrypt(buf, buf)
				copy(a[:], buf[:8])
				copy(r[(i-1)*8:i*8], buf[8:])
			}
		}
	}
	if a[0] != kwpIV[0] || a[1] != kwpIV[1] || a[2] != kwpIV[2] || a[3] != kwpIV[3] {
		return nil, ErrUnwrap
	}
	mli := int(binary.BigEndian.Uint32(a[4:]))
	if mli <= 8*(n-1) || mli > 8*n {
		return nil, ErrUnwrap
	}
	for _, p := range r[mli:] {
		if p != 0 {
			return nil, ErrUnwrap
		}
	}
	return r[:mli], nil
}

// WrapKWP is RFC 5649 key wrap with padding; the plugin only unwraps, but
// tests and clients in Go use this to wrap.
func WrapKWP(kek, p []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("nothing to wrap")
	}
	padded := make([]byte, (len(p)+7)/8*8)
	copy(padded, p)
	var a [8]byte
	copy(a[:4], kwpIV)
	binary.BigEndian.PutUint32(a[4:], uint32(len(p)))
	n := len(padded) / 8
	if n == 1 {
		out := make([]byte, 16)
		copy(out, a[:])
		copy(out[8:], padded)
		block.Encrypt(out, out)
		return out, nil
	}
	r := padded
	buf := make([]byte, 16)
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			copy(buf, a[:])
			copy(buf[8:], r[(i-1)*8:i*8])
			block.Encrypt(buf, buf)
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(buf[:8])^t)
			copy(r[(i-1)*8:i*8], buf[8:])
		}
	}
	return append(a[:], r...), nil
}

// WrapKeyMaterial wraps material to an RSA public key as AWS expects; for
// tests and Go clients.
func WrapKeyMaterial(pub *rsa.PublicKey, alg string, material []byte, rand io.Reader) ([]byte, error) {
	h, ok := wrappingHashes[alg]
	if !ok {
		return nil, inputErr("unknown wrapping algorithm %q", alg)
	}
	if alg == WrapRSAESOAEPSHA1 || alg == WrapRSAESOAEPSHA256 {
		return rsa.EncryptOAEP(h.New(), rand, pub, material, nil)
	}
	aesKey := make([]byte, 32)
	if _, err := io.ReadFull(rand, aesKey); err != nil {
		return nil, err
	}
	head, err := rsa.EncryptOAEP(h.New(), rand, pub, aesKey, nil)
	if err != nil {
		return nil, err
	}
	tail, err := WrapKWP(aesKey, material)
	if err != nil {
		return nil, err
	}
	return append(head, tail...), nil
}
