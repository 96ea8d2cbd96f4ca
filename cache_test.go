package kms

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// These tests land a write (active node) or an Invalidate (standby)
// between a reader's storage read and its cache fill, deterministically:
// the reader's Get is paused after it has read the old entry.

func withPausing(tb *testBackend) *pausingStorage {
	ps := &pausingStorage{Storage: tb.storage}
	tb.storage = ps
	return ps
}

// inBackground runs a request whose result the test collects later.
func (tb *testBackend) inBackground(op logical.Operation, path string, data map[string]any) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := tb.do(op, path, data)
		done <- err
	}()
	return done
}

// The scenario: after a restart a reader's late fill put back a
// key without its rotated version; the next rotation wrote a different
// version 2 and ciphertext made under the first version 2 was lost.
func TestStaleKeyFillActiveRotation(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	tb.cache.reset() // a restart: nothing cached

	reached, release := ps.pause(keystore.KeyPrefix + id)
	done := tb.inBackground(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("a")})
	<-reached // the reader holds the entry with version 1 only
	tb.ok(logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	v2blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("under v2")})["ciphertext_blob"]
	require.Equal(t, uint32(2), blobVersion(t, v2blob))
	close(release)
	require.NoError(t, <-done)

	// The late fill was dropped: the cache still has version 2.
	require.Equal(t, uint32(2), blobVersion(t, tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("b")})["ciphertext_blob"]))
	tb.ok(logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	require.Equal(t, uint32(3), tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_version"])
	require.Equal(t, b64s("under v2"), tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": v2blob})["plaintext"])
}

// writeBehind changes storage as another node would, then delivers the
// Invalidate that Vault sends a standby.
func (tb *testBackend) writeBehind(ps *pausingStorage, entry *logical.StorageEntry) {
	tb.t.Helper()
	ctx := context.Background()
	require.NoError(tb.t, ps.Storage.Put(ctx, entry))
	tb.invalidate(ctx, entry.Key)
}

func TestStaleKeyFillStandby(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	tb.cache.reset()

	reached, release := ps.pause(keystore.KeyPrefix + id)
	done := tb.inBackground(logical.ReadOperation, "keys/"+id, nil)
	<-reached
	// The active node rotates the key; its Invalidate reaches us now.
	e, err := tb.keys.Read(context.Background(), ps.Storage, id, nil)
	require.NoError(t, err)
	c := e.Clone()
	require.NoError(t, tb.keys.Rotate(c, keystore.RotationOnDemand, tb.now()))
	entry, err := logical.StorageEntryJSON(keystore.KeyPrefix+id, c)
	require.NoError(t, err)
	tb.writeBehind(ps, entry)
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, uint32(2), tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_version"])
}

const openPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"new","Effect":"Allow","Principal":{"AWS":"*","Vault":"no_entity"},"Action":"kms:*","Resource":"*"}]}`

func TestStalePolicyFillActive(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	tb.cache.reset()

	reached, release := ps.pause(keystore.KeyPrefix + id)
	done := tb.inBackground(logical.ReadOperation, "keys/"+id, nil)
	<-reached // the reader holds the entry with the default policy
	tb.ok(logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": openPolicy})
	close(release)
	require.NoError(t, <-done)
	require.JSONEq(t, openPolicy, tb.ok(logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"].(string))
}

func TestStalePolicyFillStandby(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	tb.cache.reset()

	reached, release := ps.pause(keystore.KeyPrefix + id)
	done := tb.inBackground(logical.ReadOperation, "keys/"+id, nil)
	<-reached
	e, err := tb.keys.Read(context.Background(), ps.Storage, id, nil)
	require.NoError(t, err)
	c := e.Clone()
	p, err := access.ParsePolicy(openPolicy)
	require.NoError(t, err)
	c.SetPolicy(openPolicy, p)
	entry, err := logical.StorageEntryJSON(keystore.KeyPrefix+id, c)
	require.NoError(t, err)
	tb.writeBehind(ps, entry)
	close(release)
	require.NoError(t, <-done)
	require.JSONEq(t, openPolicy, tb.ok(logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"].(string))
}

func grantIDs(tb *testBackend, id string) []any {
	keys, _ := tb.ok(logical.ListOperation, "keys/"+id+"/grants", nil)["keys"].([]string)
	out := []any{}
	for _, k := range keys {
		out = append(out, k)
	}
	return out
}

func (tb *testBackend) grantBob(id string) string {
	return tb.ok(logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:bob", "operations": "Encrypt"})["grant_id"].(string)
}

func TestStaleGrantFillActive(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	g := tb.grantBob(id)
	tb.cache.reset()

	reached, release := ps.pause(grantStoragePrefix + id + "/" + g)
	done := tb.inBackground(logical.ListOperation, "keys/"+id+"/grants", nil)
	<-reached // the reader's index still has the grant
	tb.ok(logical.DeleteOperation, "keys/"+id+"/grants/"+g, nil)
	close(release)
	require.NoError(t, <-done)
	require.Empty(t, grantIDs(tb, id), "a revoked grant came back")
}

func TestStaleGrantFillStandby(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	g := tb.grantBob(id)
	tb.cache.reset()

	reached, release := ps.pause(grantStoragePrefix + id + "/" + g)
	done := tb.inBackground(logical.ListOperation, "keys/"+id+"/grants", nil)
	<-reached
	// The active node revokes the grant.
	ctx := context.Background()
	require.NoError(t, ps.Storage.Delete(ctx, grantStoragePrefix+id+"/"+g))
	tb.invalidate(ctx, grantStoragePrefix+id+"/"+g)
	close(release)
	require.NoError(t, <-done)
	require.Empty(t, grantIDs(tb, id), "a revoked grant came back")
}

func TestStaleAliasFillActive(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	k1 := tb.createKey(map[string]any{"alias": "alias/moving"})
	k2 := tb.createKey(nil)
	tb.cache.reset()

	reached, release := ps.pause(keystore.AliasStorageKey("alias/moving"))
	done := tb.inBackground(logical.ReadOperation, "keys/alias/moving", nil)
	<-reached // the reader resolved the alias to k1
	tb.ok(logical.PatchOperation, "aliases/alias/moving", map[string]any{"target_key_id": k2})
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, k2, tb.ok(logical.ReadOperation, "keys/alias/moving", nil)["key_id"])
	require.Equal(t, []string{}, tb.ok(logical.ReadOperation, "keys/"+k1, nil)["aliases"])
	require.Equal(t, []string{"alias/moving"}, tb.ok(logical.ReadOperation, "keys/"+k2, nil)["aliases"])
}

func TestStaleAliasFillStandby(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	tb.createKey(map[string]any{"alias": "alias/moving"})
	k2 := tb.createKey(nil)
	tb.cache.reset()

	reached, release := ps.pause(keystore.AliasStorageKey("alias/moving"))
	done := tb.inBackground(logical.ReadOperation, "keys/alias/moving", nil)
	<-reached
	now := tb.now()
	entry, err := logical.StorageEntryJSON(keystore.AliasStorageKey("alias/moving"),
		&keystore.Alias{Name: "alias/moving", TargetKeyID: k2, CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	tb.writeBehind(ps, entry)
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, k2, tb.ok(logical.ReadOperation, "keys/alias/moving", nil)["key_id"])
}

// An absent alias is cached too, and Invalidate drops that.
func TestNegativeAliasInvalidate(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/later", nil)
	now := tb.now()
	entry, err := logical.StorageEntryJSON(keystore.AliasStorageKey("alias/later"),
		&keystore.Alias{Name: "alias/later", TargetKeyID: id, CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	require.NoError(t, tb.storage.Put(context.Background(), entry))
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/later", nil) // cached "absent"
	tb.invalidate(context.Background(), entry.Key)
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/later", nil)["key_id"])
}

// key_cache_size on kms/config bounds the parsed keys held in memory.
func TestKeyCacheSizeConfig(t *testing.T) {
	tb := newTestBackend(t)
	require.Equal(t, defaultKeyCacheSize, tb.ok(logical.ReadOperation, "config", nil)["key_cache_size"])
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"key_cache_size": 5})
	tb.ok(logical.UpdateOperation, "config", map[string]any{"key_cache_size": 10})
	var ids []string
	for range 15 {
		ids = append(ids, tb.createKey(nil))
	}
	require.Equal(t, 10, tb.keys.Keys.Len())
	for _, id := range ids { // evicted keys are read again from storage
		tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	}
	require.Equal(t, 10, tb.keys.Keys.Len())
	tb.cfg.Store(nil) // as after Invalidate: the size comes back from storage
	require.Equal(t, 10, tb.ok(logical.ReadOperation, "config", nil)["key_cache_size"])
}

// The key cache bounds estimated bytes as well as keys: ten ML_DSA_87 keys
// (about 110 KiB each parsed) do not fit in key_cache_size=10 (100 KiB).
func TestKeyCacheBoundsBytes(t *testing.T) {
	tb := newTestBackend(t)
	tb.ok(logical.UpdateOperation, "config", map[string]any{"key_cache_size": 10})
	for range 3 {
		tb.createKey(map[string]any{"key_spec": "ML_DSA_87", "key_usage": "SIGN_VERIFY"})
	}
	require.Equal(t, 1, tb.keys.Keys.Len())
	for range 5 {
		tb.createKey(nil)
	}
	require.LessOrEqual(t, tb.keys.Keys.Weight(), int64(10*keystore.KeyCacheBytesPerKey))
}
