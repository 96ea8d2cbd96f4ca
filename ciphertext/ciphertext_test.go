package ciphertext

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

const keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"

func newAEAD(t testing.TB) cipher.AEAD {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return aead
}

func TestRoundTrip(t *testing.T) {
	aead := newAEAD(t)
	for _, pt := range [][]byte{{0}, []byte("hello"), bytes.Repeat([]byte{7}, 4096)} {
		ctx := map[string]string{"purpose": "test", "tenant": "a"}
		blob, err := Seal(aead, keyID, 3, ctx, pt, rand.Reader)
		require.NoError(t, err)
		require.Len(t, blob, len(pt)+Overhead)
		b, err := Parse(blob)
		require.NoError(t, err)
		require.Equal(t, keyID, b.KeyID)
		require.Equal(t, uint32(3), b.KeyVersion)
		got, err := b.Open(aead, map[string]string{"tenant": "a", "purpose": "test"})
		require.NoError(t, err)
		require.Equal(t, pt, got)
	}
}

func TestFreshNonces(t *testing.T) {
	aead := newAEAD(t)
	a, _ := Seal(aead, keyID, 1, nil, []byte("same"), rand.Reader)
	b, _ := Seal(aead, keyID, 1, nil, []byte("same"), rand.Reader)
	require.NotEqual(t, a[headerSize:headerSize+nonceSize], b[headerSize:headerSize+nonceSize])
	require.NotEqual(t, a, b)
}

// Every single-bit flip anywhere in the blob, and every truncation, is
// refused.
func TestTamper(t *testing.T) {
	aead := newAEAD(t)
	ctx := map[string]string{"k": "v"}
	blob, err := Seal(aead, keyID, 1, ctx, []byte("attack at dawn"), rand.Reader)
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
			_, err = b.Open(aead, ctx)
			require.ErrorIs(t, err, ErrAuth, "flip of byte %d bit %d", i, bit)
		}
	}
	for n := range len(blob) {
		b, err := Parse(blob[:n])
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			continue
		}
		_, err = b.Open(aead, ctx)
		require.ErrorIs(t, err, ErrAuth, "truncated to %d", n)
	}
	// Another key with the same id cannot open it.
	b, _ := Parse(blob)
	_, err = b.Open(newAEAD(t), ctx)
	require.ErrorIs(t, err, ErrAuth)
}

func TestContextBinding(t *testing.T) {
	aead := newAEAD(t)
	seal := func(ctx map[string]string) *Blob {
		blob, err := Seal(aead, keyID, 1, ctx, []byte("x"), rand.Reader)
		require.NoError(t, err)
		b, err := Parse(blob)
		require.NoError(t, err)
		return b
	}
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
	for _, c := range cases {
		_, err := seal(c.sealed).Open(aead, c.opened)
		if c.wantMatch {
			require.NoError(t, err, c.name)
		} else {
			require.ErrorIs(t, err, ErrAuth, c.name)
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
	aead := newAEAD(t)
	blob, _ := Seal(aead, keyID, 1, nil, []byte("x"), rand.Reader)
	for _, bad := range [][]byte{nil, {}, {magic}, blob[:Overhead-1], append([]byte{0x00}, blob[1:]...), append([]byte{magic, 2}, blob[2:]...)} {
		_, err := Parse(bad)
		require.ErrorIs(t, err, ErrMalformed)
	}
}

// FuzzParse: the parser and Open never panic, and only a blob whose bytes
// are exactly a sealed blob opens.
func FuzzParse(f *testing.F) {
	aead := newAEAD(f)
	good, _ := Seal(aead, keyID, 1, map[string]string{"a": "b"}, []byte("seed"), rand.Reader)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{magic, version1})
	f.Add(bytes.Repeat([]byte{0xff}, Overhead))
	f.Add(append([]byte{magic, version1}, make([]byte, 60)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		pt, err := b.Open(aead, map[string]string{"a": "b"})
		if err == nil && !bytes.Equal(data, good) {
			t.Fatalf("a blob that is not the sealed one opened: %x -> %q", data, pt)
		}
	})
}
