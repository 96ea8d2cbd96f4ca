// Package ciphertext is the plugin's versioned, self-describing format for
// symmetric ciphertext. Layout of format version 1 (docs/CIPHERTEXT.md):
//
//	offset size field
//	0      1    magic 0x4B ('K')
//	1      1    format version, 0x01
//	2      16   key id (the key's UUID, raw bytes)
//	18     4    key material version, big endian
//	22     12   AES-GCM nonce, fresh and random for every encryption
//	34     n+16 AES-256-GCM ciphertext and tag
//
// The associated data is the 22-byte header followed by the canonical
// encoding of the encryption context, so changing the key id, the version
// or the context makes decryption fail.
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
	headerSize = 22
	nonceSize  = 12
	tagSize    = 16
	// Overhead is how much longer a blob is than its plaintext.
	Overhead = headerSize + nonceSize + tagSize
)

// ErrMalformed means the bytes are not a blob of a format we know.
var ErrMalformed = errors.New("not a ciphertext blob of this plugin")

// ErrAuth means the blob failed authentication: tampered, truncated, or
// opened with the wrong key or encryption context.
var ErrAuth = errors.New("ciphertext authentication failed")

// Blob is a parsed ciphertext blob.
type Blob struct {
	KeyID      string
	KeyVersion uint32
	raw        []byte
}

// Parse reads a blob's header. It does not authenticate anything: only Open
// does, so callers must not trust the key id until Open succeeds.
func Parse(raw []byte) (*Blob, error) {
	if len(raw) < Overhead || raw[0] != magic || raw[1] != version1 {
		return nil, ErrMalformed
	}
	id, err := uuid.FormatUUID(raw[2:18])
	if err != nil {
		return nil, ErrMalformed
	}
	return &Blob{KeyID: id, KeyVersion: binary.BigEndian.Uint32(raw[18:22]), raw: raw}, nil
}

// Seal encrypts plaintext under aead (AES-256-GCM) for the key id and key
// version, binding the encryption context.
func Seal(aead cipher.AEAD, keyID string, keyVersion uint32, context map[string]string, plaintext []byte, rand io.Reader) ([]byte, error) {
	id, err := uuid.ParseUUID(keyID)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize+nonceSize, Overhead+len(plaintext))
	out[0], out[1] = magic, version1
	copy(out[2:18], id)
	binary.BigEndian.PutUint32(out[18:22], keyVersion)
	nonce := out[headerSize : headerSize+nonceSize]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, plaintext, associatedData(out[:headerSize], context)), nil
}

// Open authenticates and decrypts the blob with the key's aead.
func (b *Blob) Open(aead cipher.AEAD, context map[string]string) ([]byte, error) {
	nonce := b.raw[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, b.raw[headerSize+nonceSize:], associatedData(b.raw[:headerSize], context))
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
