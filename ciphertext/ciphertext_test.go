package ciphertext

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

const keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"

// newKey is a fresh SYMMETRIC_DEFAULT key version, as the plugin holds it.
func newKey(t testing.TB) *keyspec.Key {
	spec, ok := keyspec.Lookup(keyspec.SymmetricDefault)
	require.True(t, ok)
	k, err := spec.Generate(rand.Reader)
	require.NoError(t, err)
	return k
}

// sealers write each format: the current one and the old one that must
// keep opening.
var sealers = map[string]func(k *keyspec.Key, ctx map[string]string, pt []byte) ([]byte, error){
	"format 2": func(k *keyspec.Key, ctx map[string]string, pt []byte) ([]byte, error) {
		return Seal(k, keyID, 3, ctx, pt, rand.Reader)
	},
	"format 1": func(k *keyspec.Key, ctx map[string]string, pt []byte) ([]byte, error) {
		return sealV1(k.AEAD(), keyID, 3, ctx, pt, rand.Reader)
	},
}

func TestRoundTrip(t *testing.T) {
	k := newKey(t)
	for name, seal := range sealers {
		for _, pt := range [][]byte{{0}, []byte("hello"), bytes.Repeat([]byte{7}, 4096)} {
			ctx := map[string]string{"purpose": "test", "tenant": "a"}
			blob, err := seal(k, ctx, pt)
			require.NoError(t, err)
			b, err := Parse(blob)
			require.NoError(t, err)
			require.Equal(t, keyID, b.KeyID)
			require.Equal(t, uint32(3), b.KeyVersion)
			if name == "format 2" {
				require.Len(t, blob, len(pt)+Overhead)
				require.Equal(t, 2, b.Format)
			} else {
				require.Len(t, blob, len(pt)+OverheadV1)
				require.Equal(t, 1, b.Format)
			}
			got, err := b.Open(k, map[string]string{"tenant": "a", "purpose": "test"})
			require.NoError(t, err, name)
			require.Equal(t, pt, got)
		}
	}
}

// Every encryption draws a fresh salt (so a fresh message key) and nonce.
func TestFreshSaltAndNonce(t *testing.T) {
	k := newKey(t)
	a, _ := Seal(k, keyID, 1, nil, []byte("same"), rand.Reader)
	b, _ := Seal(k, keyID, 1, nil, []byte("same"), rand.Reader)
	require.NotEqual(t, a[headerSize:headerSize+saltSize], b[headerSize:headerSize+saltSize])
	require.NotEqual(t, a[headerSize+saltSize:headerSize+saltSize+nonceSize], b[headerSize+saltSize:headerSize+saltSize+nonceSize])
	require.NotEqual(t, a, b)
}

// A known-answer vector for format 2, computed independently: the
// expected blob was made with Python's cryptography package (HKDF-SHA256,
// AESGCM) from the layout in docs/CIPHERTEXT.md, and is recomputed here
// with Go's crypto/hkdf and crypto/aes directly, not through this package.
func TestFormat2KnownAnswer(t *testing.T) {
	material := make([]byte, 32)
	for i := range material {
		material[i] = byte(i)
	}
	salt, nonce := make([]byte, 32), make([]byte, 12)
	for i := range salt {
		salt[i] = 0x40 + byte(i)
	}
	for i := range nonce {
		nonce[i] = 0x60 + byte(i)
	}
	ctx := map[string]string{"purpose": "kat", "tenant": "a"}
	pt := []byte("known answer test")
	const want = "4b021234abcd12ab34cd56ef1234567890ab00000007" +
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
		"606162636465666768696a6b" +
		"190c5527b0f7226f6be9fe21a9d641008124caf56f15d5951945c1fdf3937a6ff3"

	// Independently, from the documented inputs.
	dk, err := hkdf.Key(sha256.New, material, salt, "vault-plugin-kms ciphertext format 2 AES-256-GCM message key", 32)
	require.NoError(t, err)
	require.Equal(t, "a206c3d48fb28430b99d5353ce8718effea675633d9211a3367825b3175301bb", hex.EncodeToString(dk))
	block, err := aes.NewCipher(dk)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	hdr, _ := hex.DecodeString("4b021234abcd12ab34cd56ef1234567890ab00000007")
	ad := append(append(append([]byte{}, hdr...), salt...),
		0, 0, 0, 2, 0, 0, 0, 7, 'p', 'u', 'r', 'p', 'o', 's', 'e', 0, 0, 0, 3, 'k', 'a', 't',
		0, 0, 0, 6, 't', 'e', 'n', 'a', 'n', 't', 0, 0, 0, 1, 'a')
	independent := gcm.Seal(append(append(append([]byte{}, hdr...), salt...), nonce...), nonce, pt, ad)
	require.Equal(t, want, hex.EncodeToString(independent))

	// The code under test, with the same salt and nonce as its randomness.
	spec, _ := keyspec.Lookup(keyspec.SymmetricDefault)
	k, err := spec.Parse(material)
	require.NoError(t, err)
	blob, err := Seal(k, keyID, 7, ctx, pt, bytes.NewReader(append(append([]byte{}, salt...), nonce...)))
	require.NoError(t, err)
	require.Equal(t, want, hex.EncodeToString(blob))
	b, err := Parse(blob)
	require.NoError(t, err)
	got, err := b.Open(k, ctx)
	require.NoError(t, err)
	require.Equal(t, pt, got)
}

// Format 1 blobs made before format 2 existed still open: this one is
// built by hand with Go's AES-GCM, as format 1 documents.
func TestFormat1StillOpens(t *testing.T) {
	k := newKey(t)
	nonce := bytes.Repeat([]byte{9}, 12)
	hdr, _ := hex.DecodeString("4b011234abcd12ab34cd56ef1234567890ab00000001")
	blob := k.AEAD().Seal(append(append([]byte{}, hdr...), nonce...), nonce, []byte("old"), append(append([]byte{}, hdr...), 0, 0, 0, 0))
	b, err := Parse(blob)
	require.NoError(t, err)
	require.Equal(t, 1, b.Format)
	got, err := b.Open(k, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("old"), got)
}

// Every single-bit flip anywhere in the blob, and every truncation, is
// refused, in both formats.
func TestTamper(t *testing.T) {
	k := newKey(t)
	ctx := map[string]string{"k": "v"}
	for name, seal := range sealers {
		blob, err := seal(k, ctx, []byte("attack at dawn"))
		require.NoError(t, err)
		for i := range blob {
			for bit := range 8 {
				c := append([]byte(nil), blob...)
				c[i] ^= 1 << bit
				b, err := Parse(c)
				if err != nil {
					require.ErrorIs(t, err, ErrMalformed)
					continue
				}
				_, err = b.Open(k, ctx)
				require.ErrorIs(t, err, ErrAuth, "%s: flip of byte %d bit %d", name, i, bit)
			}
		}
		for n := range len(blob) {
			b, err := Parse(blob[:n])
			if err != nil {
				require.ErrorIs(t, err, ErrMalformed)
				continue
			}
			_, err = b.Open(k, ctx)
			require.ErrorIs(t, err, ErrAuth, "%s: truncated to %d", name, n)
		}
		// Another key with the same id cannot open it.
		b, _ := Parse(blob)
		_, err = b.Open(newKey(t), ctx)
		require.ErrorIs(t, err, ErrAuth)
		// Nor can a key that is not an AES key.
		hmacSpec, _ := keyspec.Lookup(keyspec.HMAC256)
		hk, err := hmacSpec.Generate(rand.Reader)
		require.NoError(t, err)
		_, err = b.Open(hk, ctx)
		require.ErrorIs(t, err, ErrAuth)
	}
}

// A format 2 blob relabelled as format 1 (and the reverse) does not open.
func TestFormatConfusion(t *testing.T) {
	k := newKey(t)
	for name, seal := range sealers {
		blob, err := seal(k, nil, bytes.Repeat([]byte("x"), 64))
		require.NoError(t, err)
		c := append([]byte(nil), blob...)
		c[1] ^= version1 ^ version2
		b, err := Parse(c)
		require.NoError(t, err, name)
		_, err = b.Open(k, nil)
		require.ErrorIs(t, err, ErrAuth, name)
	}
}

func TestContextBinding(t *testing.T) {
	k := newKey(t)
	cases := []struct {
		name      string
		sealed    map[string]string
		opened    map[string]string
		wantMatch bool
	}{
		{"empty equals absent", map[string]string{}, nil, true},
		{"absent equals empty", nil, map[string]string{}, true},
		{"missing context", map[string]string{"a": "b"}, nil, false},
		{"extra context", nil, map[string]string{"a": "b"}, false},
		{"wrong value", map[string]string{"a": "b"}, map[string]string{"a": "c"}, false},
		{"subset", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "b"}, false},
		// The emulators' concatenation makes these two equal; ours must not.
		{"concatenation collision", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}, false},
		{"pair boundary", map[string]string{"a": "b", "c": ""}, map[string]string{"a": "bc"}, false},
		{"empty value vs absent", map[string]string{"a": ""}, nil, false},
		{"case matters", map[string]string{"A": "b"}, map[string]string{"a": "b"}, false},
		{"unicode", map[string]string{"ключ": "значение"}, map[string]string{"ключ": "значение"}, true},
		{"order does not matter", map[string]string{"x": "1", "y": "2"}, map[string]string{"y": "2", "x": "1"}, true},
	}
	for name, seal := range sealers {
		for _, c := range cases {
			blob, err := seal(k, c.sealed, []byte("x"))
			require.NoError(t, err)
			b, err := Parse(blob)
			require.NoError(t, err)
			_, err = b.Open(k, c.opened)
			if c.wantMatch {
				require.NoError(t, err, "%s: %s", name, c.name)
			} else {
				require.ErrorIs(t, err, ErrAuth, "%s: %s", name, c.name)
			}
		}
	}
}

func TestCanonicalContext(t *testing.T) {
	a := AppendContext(nil, map[string]string{"ab": "c"})
	b := AppendContext(nil, map[string]string{"a": "bc"})
	require.NotEqual(t, a, b)
	require.Equal(t, []byte{0, 0, 0, 0}, AppendContext(nil, nil))
	require.Equal(t, []byte{0, 0, 0, 1, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'}, AppendContext(nil, map[string]string{"k": "v"}))
}

func TestParseRejects(t *testing.T) {
	k := newKey(t)
	v2, _ := Seal(k, keyID, 1, nil, []byte("x"), rand.Reader)
	v1, _ := sealV1(k.AEAD(), keyID, 1, nil, []byte("x"), rand.Reader)
	for _, bad := range [][]byte{nil, {}, {magic}, v2[:Overhead-1], v1[:OverheadV1-1], append([]byte{0x00}, v2[1:]...),
		append([]byte{magic, 4}, v2[2:]...), append([]byte{magic, 0}, v2[2:]...),
		// A format 1 blob's length is too short for format 2.
		append([]byte{magic, version2}, v1[2:]...)} {
		_, err := Parse(bad)
		require.ErrorIs(t, err, ErrMalformed, "%x", bad)
	}
}

// FuzzParse: the parser and Open never panic, in either format, and only a
// blob whose bytes are exactly a sealed blob opens.
func FuzzParse(f *testing.F) {
	k := newKey(f)
	ctx := map[string]string{"a": "b"}
	good2, _ := Seal(k, keyID, 1, ctx, []byte("seed"), rand.Reader)
	good1, _ := sealV1(k.AEAD(), keyID, 1, ctx, []byte("seed"), rand.Reader)
	for _, seed := range [][]byte{good2, good1, {}, {magic, version1}, {magic, version2},
		bytes.Repeat([]byte{0xff}, Overhead), bytes.Repeat([]byte{0xff}, OverheadV1),
		append([]byte{magic, version1}, make([]byte, 60)...), append([]byte{magic, version2}, make([]byte, 90)...)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error %v is not ErrMalformed", err)
			}
			return
		}
		if b.Format != int(data[1]) || b.KeyVersion != binary.BigEndian.Uint32(data[18:22]) {
			t.Fatalf("parsed header %+v does not match the bytes %x", b, data[:22])
		}
		pt, err := b.Open(k, ctx)
		if err == nil && !bytes.Equal(data, good1) && !bytes.Equal(data, good2) {
			t.Fatalf("a blob that is not a sealed one opened: %x -> %q", data, pt)
		}
		if err == nil && !bytes.Equal(pt, []byte("seed")) {
			t.Fatalf("a sealed blob opened to %q", pt)
		}
	})
}

// BenchmarkSeal compares the formats: format 2 adds a key derivation and an
// AES key schedule per message.
func BenchmarkSeal(b *testing.B) {
	k := newKey(b)
	pt := make([]byte, 1024)
	for name, seal := range sealers {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := seal(k, map[string]string{"a": "b"}, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
