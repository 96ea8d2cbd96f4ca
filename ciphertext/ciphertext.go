// Package ciphertext is the plugin's versioned, self-describing format for
// symmetric ciphertext (docs/CIPHERTEXT.md). Every blob starts with the same
// 22-byte header:
//
//	offset size field
//	0      1    magic 0x4B ('K')
//	1      1    format version, 0x01 or 0x02
//	2      16   key id (the key's UUID, raw bytes)
//	18     4    key material version, big endian
//
// Format 2, which Seal writes, then has:
//
//	22     32   salt, fresh and random for every encryption
//	54     12   AES-GCM nonce, fresh and random for every encryption
//	66     n+16 AES-256-GCM ciphertext and tag, under the message key
//
// where the message key is HKDF-SHA256(key material, salt, info2), so each
// message has its own AES key and GCM's bound on random nonces (2^32
// messages per key) does not depend on traffic. The associated data is the
// 54 bytes before the nonce followed by the canonical encryption context.
//
// Format 3 (SealToken, OpenToken) is for keys in a custom key store, whose
// AES-GCM runs in the token: the nonce at 22 and the ciphertext and tag at
// 34, as format 1, under the token's key object (docs/CIPHERTEXT.md).
//
// Format 1, which Open still reads, has the nonce at 22 and the ciphertext
// at 34 under the key material itself; its associated data is the 22-byte
// header followed by the canonical encryption context.
package ciphertext

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
	"sort"

	uuid "github.com/hashicorp/go-uuid"
)

const (
	magic      = 0x4B
	version1   = 0x01
	version2   = 0x02
	version3   = 0x03
	headerSize = 22
	saltSize   = 32
	nonceSize  = 12
	tagSize    = 16
	// Overhead is how much longer a blob of the current format (2) is than
	// its plaintext.
	Overhead = headerSize + saltSize + nonceSize + tagSize
	// OverheadV1 is the same for format 1.
	OverheadV1 = headerSize + nonceSize + tagSize
)

// info2 is HKDF's info for format 2: it separates the message keys of this
// format from any other use of the key material.
var info2 = []byte("vault-plugin-kms ciphertext format 2 AES-256-GCM message key")

// ErrMalformed means the bytes are not a blob of a format we know.
var ErrMalformed = errors.New("not a ciphertext blob of this plugin")

// ErrAuth means the blob failed authentication: tampered, truncated, or
// opened with the wrong key or encryption context.
var ErrAuth = errors.New("ciphertext authentication failed")

// Key is one version of a SYMMETRIC_DEFAULT key (keyspec.Key).
type Key interface {
	// AEAD is AES-256-GCM under the key material: format 1.
	AEAD() cipher.AEAD
	// DeriveAEAD is AES-256-GCM under HKDF-SHA256(material, salt, info):
	// format 2.
	DeriveAEAD(salt, info []byte) (cipher.AEAD, error)
}

// Blob is a parsed ciphertext blob.
type Blob struct {
	// Format is the blob's format version, 1, 2 or 3 (a key in a token).
	Format     int
	KeyID      string
	KeyVersion uint32
	raw        []byte
}

// Parse reads a blob's header. It does not authenticate anything: only Open
// does, so callers must not trust the key id until Open succeeds.
func Parse(raw []byte) (*Blob, error) {
	if len(raw) < headerSize || raw[0] != magic {
		return nil, ErrMalformed
	}
	switch {
	case raw[1] == version1 && len(raw) >= OverheadV1:
	case raw[1] == version2 && len(raw) >= Overhead:
	case raw[1] == version3 && len(raw) >= OverheadV3:
	default:
		return nil, ErrMalformed
	}
	id, err := uuid.FormatUUID(raw[2:18])
	if err != nil {
		return nil, ErrMalformed
	}
	return &Blob{Format: int(raw[1]), KeyID: id, KeyVersion: binary.BigEndian.Uint32(raw[18:22]), raw: raw}, nil
}

// Seal encrypts plaintext in format 2 under a message key derived from k,
// for the key id and key version, binding the encryption context.
func Seal(k Key, keyID string, keyVersion uint32, context map[string]string, plaintext []byte, rand io.Reader) ([]byte, error) {
	out, err := header(version2, keyID, keyVersion, saltSize+nonceSize, len(plaintext)+Overhead)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand, out[headerSize:]); err != nil {
		return nil, err
	}
	aead, err := k.DeriveAEAD(out[headerSize:headerSize+saltSize], info2)
	if err != nil {
		return nil, err
	}
	ad := headerSize + saltSize
	return aead.Seal(out, out[ad:ad+nonceSize], plaintext, associatedData(out[:ad], context)), nil
}

// sealV1 writes format 1, which only Open needs now: tests make old blobs
// with it.
func sealV1(aead cipher.AEAD, keyID string, keyVersion uint32, context map[string]string, plaintext []byte, rand io.Reader) ([]byte, error) {
	out, err := header(version1, keyID, keyVersion, nonceSize, len(plaintext)+OverheadV1)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand, out[headerSize:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[headerSize:], plaintext, associatedData(out[:headerSize], context)), nil
}

// header returns the blob header followed by extra bytes to fill, with room
// for size bytes in all.
func header(format byte, keyID string, keyVersion uint32, extra, size int) ([]byte, error) {
	id, err := uuid.ParseUUID(keyID)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize+extra, size)
	out[0], out[1] = magic, format
	copy(out[2:18], id)
	binary.BigEndian.PutUint32(out[18:22], keyVersion)
	return out, nil
}

// Open authenticates and decrypts the blob with its key version's k.
func (b *Blob) Open(k Key, context map[string]string) ([]byte, error) {
	var aead cipher.AEAD
	ad := headerSize // the associated data is every byte before the nonce
	switch b.Format {
	case version1:
		aead = k.AEAD()
	case version2:
		ad += saltSize
		var err error
		if aead, err = k.DeriveAEAD(b.raw[headerSize:ad], info2); err != nil {
			return nil, ErrAuth
		}
	}
	if aead == nil {
		return nil, ErrAuth
	}
	pt, err := aead.Open(nil, b.raw[ad:ad+nonceSize], b.raw[ad+nonceSize:], associatedData(b.raw[:ad], context))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

func associatedData(header []byte, context map[string]string) []byte {
	ad := make([]byte, 0, len(header)+contextSize(context))
	ad = append(ad, header...)
	return AppendContext(ad, context)
}

func contextSize(c map[string]string) int {
	n := 4
	for k, v := range c {
		n += 8 + len(k) + len(v)
	}
	return n
}

// AppendContext appends the canonical encoding of an encryption context:
// the number of pairs, then each pair sorted by key as length-prefixed key
// and value (uint32 big endian lengths). Unlike concatenating keys and
// values, it is unambiguous: {"ab":"c"} and {"a":"bc"} encode differently.
// An empty and an absent context encode the same, as in AWS.
func AppendContext(dst []byte, c map[string]string) []byte {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c[k])))
		dst = append(dst, c[k]...)
	}
	return dst
}
