package ciphertext

import (
	"bytes"
	"encoding/binary"
	"maps"
	"sort"
	"strings"
	"testing"
)

// contextFrom makes an encryption context from fuzz input: NUL-separated
// strings taken as key, value, key, value...
func contextFrom(s string) map[string]string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\x00")
	m := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		m[parts[i]] = parts[i+1]
	}
	return m
}

// decodeContext reads the canonical encoding back, by the documented
// layout (docs/CIPHERTEXT.md), checking that keys come in strict byte
// order and that nothing is left over.
func decodeContext(t *testing.T, enc []byte) map[string]string {
	t.Helper()
	next := func() []byte {
		if len(enc) < 4 {
			t.Fatalf("encoding truncated")
		}
		n := binary.BigEndian.Uint32(enc)
		if uint64(len(enc)-4) < uint64(n) {
			t.Fatalf("length %d past the end", n)
		}
		out := enc[4 : 4+n]
		enc = enc[4+n:]
		return out
	}
	if len(enc) < 4 {
		t.Fatalf("no pair count")
	}
	count := binary.BigEndian.Uint32(enc)
	enc = enc[4:]
	m := map[string]string{}
	var prev []byte
	for i := uint32(0); i < count; i++ {
		k := next()
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("keys out of order: %q then %q", prev, k)
		}
		prev = k
		m[string(k)] = string(next())
	}
	if len(enc) != 0 {
		t.Fatalf("%d bytes after the last pair", len(enc))
	}
	return m
}

// FuzzContext: the canonical encoding of an encryption context (the AAD
// of every blob) decodes back to the same context, so it is injective: two
// contexts encode the same exactly when they are equal (empty and absent
// being equal, as in AWS), and the encoding does not depend on map order.
func FuzzContext(f *testing.F) {
	for _, seed := range [][2]string{{"", ""}, {"ab\x00c", "a\x00bc"}, {"a\x00b\x00c\x00", "a\x00bc"}, {"k\x00v", "k\x00v"},
		{"\x00", ""}, {"x\x001\x00y\x002", "y\x002\x00x\x001"}, {"ключ\x00значение", "ключ\x00значение\x00"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, mb := contextFrom(a), contextFrom(b)
		ea, eb := AppendContext(nil, ma), AppendContext(nil, mb)
		if got := decodeContext(t, ea); !maps.Equal(got, ma) && !(len(got) == 0 && len(ma) == 0) {
			t.Fatalf("%q encodes to %x, which decodes to %q", ma, ea, got)
		}
		if bytes.Equal(ea, eb) != maps.Equal(ma, mb) {
			t.Fatalf("%q and %q: equal encodings %v, equal contexts %v", ma, mb, bytes.Equal(ea, eb), maps.Equal(ma, mb))
		}
		// Appending keeps what is there: the AAD prefix (the header).
		prefix := []byte{magic, version2}
		if got := AppendContext(append([]byte{}, prefix...), ma); !bytes.Equal(got, append(prefix, ea...)) {
			t.Fatalf("AppendContext does not append")
		}
		keys := make([]string, 0, len(ma))
		for k := range ma {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rebuilt := map[string]string{}
		for i := len(keys) - 1; i >= 0; i-- { // another insertion order
			rebuilt[keys[i]] = ma[keys[i]]
		}
		if !bytes.Equal(AppendContext(nil, rebuilt), ea) {
			t.Fatalf("the encoding depends on map order")
		}
	})
}
