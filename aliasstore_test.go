package kms

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// Resolving an alias is one storage lookup, never a List of all aliases.
func TestAliasResolveIsOneLookup(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/one"})
	for i := range keystore.MaxAliasesPerKey - 1 {
		tb.ok(logical.UpdateOperation, fmt.Sprintf("aliases/alias/other-%d", i), map[string]any{"target_key_id": id})
	}
	cs := &callCountingStorage{Storage: tb.storage}
	tb.storage = cs
	tb.cache.reset()
	tb.arns(context.Background(), cs) // the mount config is not the point here
	cs.reset()
	_, err := tb.resolveKey(context.Background(), cs, "alias/one", true)
	require.NoError(t, err)
	gets, lists := cs.reset()
	require.Equal(t, 0, lists)
	require.Equal(t, 2, gets, "the alias and its key")
	_, err = tb.resolveKey(context.Background(), cs, "alias/one", true)
	require.NoError(t, err)
	gets, lists = cs.reset()
	require.Equal(t, 0, gets+lists, "warm: no storage call")
}

// The reverse index serves "aliases of a key"; an index entry whose alias
// points elsewhere (or is gone) is invisible, as after a crash mid-write.
func TestAliasIndex(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	k1 := tb.createKey(map[string]any{"alias": "alias/a1"})
	k2 := tb.createKey(nil)
	tb.ok(logical.UpdateOperation, "aliases/alias/a2", map[string]any{"target_key_id": k1})
	tb.ok(logical.UpdateOperation, "aliases/alias/b1", map[string]any{"target_key_id": k2})
	listOf := func(id string) any {
		return tb.ok(logical.ListOperation, "aliases", map[string]any{"key_id": id})["keys"]
	}
	require.Equal(t, []string{"alias/a1", "alias/a2"}, listOf(k1))
	require.Equal(t, []string{"alias/a1", "alias/a2"}, tb.ok(logical.ListOperation, "aliases", map[string]any{"limit": 2})["keys"])

	// Half states a crash can leave: an index entry before its alias was
	// written, and an old target's entry not yet deleted.
	require.NoError(t, tb.storage.Put(ctx, &logical.StorageEntry{Key: keystore.AliasIndexKey(k2, "alias/ghost")}))
	require.NoError(t, tb.storage.Put(ctx, &logical.StorageEntry{Key: keystore.AliasIndexKey(k2, "alias/a1")}))
	tb.cache.reset()
	require.Equal(t, []string{"alias/b1"}, tb.ok(logical.ReadOperation, "keys/"+k2, nil)["aliases"])
	require.Equal(t, []string{"alias/b1"}, listOf(k2))

	tb.ok(logical.PatchOperation, "aliases/alias/a2", map[string]any{"target_key_id": k2})
	require.Equal(t, []string{"alias/a1"}, listOf(k1))
	require.Equal(t, []string{"alias/a2", "alias/b1"}, listOf(k2))

	// Deleting k2 deletes its aliases and its index, leftovers included.
	tb.ok(logical.UpdateOperation, "keys/"+k2+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(8 * 24 * 3600e9)
	tb.runPeriodic()
	tb.fails(kmserr.NotFound, logical.ReadOperation, "aliases/alias/a2", nil)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "aliases/alias/b1", nil)
	left, err := tb.storage.List(ctx, keystore.AliasIndexPrefix+k2+"/")
	require.NoError(t, err)
	require.Empty(t, left)
	require.Equal(t, []string{"alias/a1"}, tb.ok(logical.ListOperation, "aliases", nil)["keys"])
}

// BenchmarkAliasResolve resolves one alias among 100,000: cold (the alias
// not cached, as after a restart) and warm.
func BenchmarkAliasResolve(b *testing.B) {
	tb := newTestBackend(b)
	ctx := context.Background()
	id := tb.createKey(nil)
	now := tb.now()
	const n = 100000
	for i := range n {
		name := fmt.Sprintf("alias/bench-%06d", i)
		entry, err := logical.StorageEntryJSON(keystore.AliasStorageKey(name), &keystore.Alias{Name: name, TargetKeyID: id, CreatedAt: now, UpdatedAt: now})
		require.NoError(b, err)
		require.NoError(b, tb.storage.Put(ctx, entry))
	}
	ref := fmt.Sprintf("alias/bench-%06d", n/2)
	if _, err := tb.resolveKey(ctx, tb.storage, ref, true); err != nil {
		b.Fatal(err)
	}
	b.Run("Cold", func(b *testing.B) {
		for b.Loop() {
			tb.keys.Aliases.Reset()
			if _, err := tb.resolveKey(ctx, tb.storage, ref, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Warm", func(b *testing.B) {
		for b.Loop() {
			if _, err := tb.resolveKey(ctx, tb.storage, ref, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
