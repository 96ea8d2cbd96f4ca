package kms

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Helpers and tests of docs/SCALE.md; the measurements themselves are in
// scale_bench_test.go.

// callCounter counts storage calls by the first segment of the path
// ("key/", "alias/", "config", ...), so a test can tell a lookup from a scan.
type callCounter struct {
	logical.Storage
	mu    sync.Mutex
	gets  map[string]int
	lists map[string]int // by the exact prefix listed
	puts  int
}

func newCallCounter(s logical.Storage) *callCounter {
	c := &callCounter{Storage: s}
	c.reset()
	return c
}

func (c *callCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets, c.lists, c.puts = map[string]int{}, map[string]int{}, 0
}

func segment(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return key
}

func (c *callCounter) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	c.mu.Lock()
	c.gets[segment(key)]++
	c.mu.Unlock()
	return c.Storage.Get(ctx, key)
}

func (c *callCounter) List(ctx context.Context, prefix string) ([]string, error) {
	c.mu.Lock()
	c.lists[prefix]++
	c.mu.Unlock()
	return c.Storage.List(ctx, prefix)
}

func (c *callCounter) Put(ctx context.Context, e *logical.StorageEntry) error {
	c.mu.Lock()
	c.puts++
	c.mu.Unlock()
	return c.Storage.Put(ctx, e)
}

func (c *callCounter) totals() (gets, lists int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.gets {
		gets += n
	}
	for _, n := range c.lists {
		lists += n
	}
	return gets, lists
}

// seedKeys writes n keys of one spec straight to storage, in the entry
// pathKeyCreate writes (one material version, default usage, Enabled),
// without the request path: that is what makes a million keys feasible in
// a benchmark. With shared material every key reuses one generated key
// (RSA generation would take hours); each entry is still parsed on its own
// when read, so the cache holds n separate parsed keys.
func seedKeys(tb testing.TB, s logical.Storage, specName string, n int, shared bool) []string {
	tb.Helper()
	ctx := context.Background()
	spec, ok := keyspec.Lookup(specName)
	require.True(tb, ok, specName)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var material *keyspec.Key
	ids := make([]string, n)
	for i := range n {
		id, err := uuid.GenerateUUID()
		require.NoError(tb, err)
		if material == nil || !shared {
			material, err = spec.Generate(rand.Reader)
			require.NoError(tb, err)
		}
		e := &keystore.Key{KeyID: id, KeySpec: spec.Name, KeyUsage: spec.DefaultUsage(), Origin: keystore.OriginAWSKMS,
			State: keystore.StateEnabled, CreationDate: now}
		require.NoError(tb, e.AddVersion(material, now))
		entry, err := logical.StorageEntryJSON(keystore.KeyPrefix+id, e)
		require.NoError(tb, err)
		require.NoError(tb, s.Put(ctx, entry))
		ids[i] = id
	}
	return ids
}

// startBackend is a plugin start as Vault does it: Factory, then the
// initialize call, on existing storage.
func startBackend(tb testing.TB, s logical.Storage) *backend {
	tb.Helper()
	ctx := context.Background()
	conf := logical.TestBackendConfig()
	conf.StorageView = s
	raw, err := Factory(ctx, conf)
	require.NoError(tb, err)
	b := raw.(*backend)
	require.NoError(tb, b.Initialize(ctx, &logical.InitializationRequest{Storage: s}))
	return b
}

// A start (or a reload: a new backend on the same storage) reads a few
// mount-wide entries and never lists or reads the keys, however many there
// are; keys, aliases and grants are read when first used.
func TestScaleStartDoesNotScan(t *testing.T) {
	ctx := context.Background()
	s := newCallCounter(&logical.InmemStorage{})
	ids := seedKeys(t, s, keyspec.SymmetricDefault, 2000, true)

	first := startBackend(t, s)
	// Aliases and grants exist too, made through the API.
	req := func(op logical.Operation, path string, data map[string]any) {
		resp, err := first.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: s})
		require.NoError(t, err)
		require.False(t, resp != nil && resp.IsError(), "%s: %v", path, resp)
	}
	req(logical.CreateOperation, "aliases/alias/orders", map[string]any{"target_key_id": ids[0]})
	req(logical.UpdateOperation, "keys/"+ids[1]+"/grants", map[string]any{"grantee_principal": "entity_name:bob", "operations": "Encrypt"})
	first.Cleanup(ctx)

	for _, start := range []string{"reload", "second reload"} {
		s.reset()
		b := startBackend(t, s)
		gets, lists := s.totals()
		require.Zero(t, s.gets[keystore.KeyPrefix], "%s read key entries", start)
		require.Zero(t, s.gets[grantStoragePrefix], "%s read grants", start)
		require.Zero(t, s.gets[keystore.AliasPrefix], "%s read aliases", start)
		for prefix := range s.lists {
			require.False(t, strings.HasPrefix(prefix, keystore.KeyPrefix) || prefix == "", "%s listed %q", start, prefix)
			require.False(t, strings.HasPrefix(prefix, grantStoragePrefix), "%s listed %q", start, prefix)
			require.False(t, strings.HasPrefix(prefix, keystore.AliasPrefix), "%s listed %q", start, prefix)
		}
		require.LessOrEqual(t, gets, 5, "%s: %v", start, s.gets)
		require.LessOrEqual(t, lists, 0, "%s: %v", start, s.lists)
		require.Zero(t, s.puts, "%s wrote storage", start)

		// The first request on a key reads that key, and only it.
		s.reset()
		resp, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "encrypt/alias/orders",
			Data: map[string]any{"plaintext": b64s("x")}, Storage: s})
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp)
		require.Equal(t, 1, s.gets[keystore.KeyPrefix], "%s: %v", start, s.gets)
		_, lists = s.totals()
		require.Zero(t, lists, "%s: %v", start, s.lists)
		b.Cleanup(ctx)
	}
}

// Directly seeded keys are keys like any other: the API serves them.
func TestScaleSeededKeysWork(t *testing.T) {
	tb := newTestBackend(t)
	for _, spec := range []string{keyspec.SymmetricDefault, keyspec.ECCNistP256} {
		ids := seedKeys(t, tb.storage, spec, 3, spec == keyspec.ECCNistP256)
		for _, id := range ids {
			d := tb.ok(logical.ReadOperation, "keys/"+id, nil)
			require.Equal(t, spec, d["key_spec"])
			require.Equal(t, "Enabled", d["key_state"])
		}
		if spec == keyspec.SymmetricDefault {
			blob := tb.ok(logical.UpdateOperation, "encrypt/"+ids[2], map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
			require.Equal(t, b64s("x"), tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})["plaintext"])
		}
	}
}
