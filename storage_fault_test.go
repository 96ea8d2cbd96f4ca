package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// withFaults puts a faultStorage in front of the test backend's storage.
func withFaults(tb *testBackend) *faultStorage {
	fs := &faultStorage{Storage: tb.storage}
	tb.storage = fs
	return fs
}

// restart drops every cache, as a new plugin process on the same storage.
func (tb *testBackend) restart() {
	tb.cache.reset()
	tb.keys.InvalidateRotations()
}

func (tb *testBackend) liveKeys() []string {
	keys, _ := tb.ok(logical.ListOperation, "keys", nil)["keys"].([]string)
	return keys
}

// storageKeys lists every storage key under prefix.
func storageKeys(t *testing.T, s logical.Storage, prefix string) []string {
	t.Helper()
	keys, err := logical.CollectKeysWithPrefix(context.Background(), s, prefix)
	require.NoError(t, err)
	return keys
}

// CreateKey with alias, tags and policy, with a storage failure (the
// write fails, the plugin goes on) or a crash (that write and every later
// one fail, then the plugin restarts) at each of its writes: the client
// gets the storage's error, nothing half-made is visible, a retry with the
// same alias succeeds and leaves one key owning it, and the sweep removes
// the leftovers.
func TestCreateKeyWithAliasFaults(t *testing.T) {
	create := map[string]any{"alias": "alias/app", "tags": map[string]any{"team": "a"}, "policy": openPolicy}
	for _, crash := range []bool{false, true} {
		for n := 1; ; n++ {
			tb := newTestBackend(t)
			fs := withFaults(tb)
			other := tb.createKey(nil) // loads the mount config first
			fs.arm(n, crash)
			resp, err := tb.do(logical.UpdateOperation, "keys", create)
			done := fs.writes() < n
			fs.arm(0, false)
			if crash {
				tb.restart()
			}
			name := fmt.Sprintf("crash=%v write %d", crash, n)
			if err == nil {
				// The failed write came after the commit (or never).
				id := resp.Data["key_id"].(string)
				require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/app", nil)["key_id"], name)
			} else {
				require.ErrorIs(t, err, errInjected, name)
				require.Equal(t, []string{other}, tb.liveKeys(), name)
				tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/app", nil)
				tb.fails(kmserr.NotFound, logical.ReadOperation, "aliases/alias/app", nil)
				require.Empty(t, tb.ok(logical.ListOperation, "aliases", nil)["keys"], name)
				// The client's retry.
				id := tb.createKey(create)
				require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/app", nil)["key_id"], name)
				require.Equal(t, []string{"alias/app"}, tb.ok(logical.ReadOperation, "keys/"+id, nil)["aliases"], name)
			}
			tb.runPeriodic()
			require.Len(t, storageKeys(t, tb.storage, keystore.KeyPrefix), 2, name)
			require.Empty(t, storageKeys(t, tb.storage, keystore.CreatingPrefix), name)
			require.Len(t, storageKeys(t, tb.storage, keystore.AliasIndexPrefix), 1, name)
			require.Len(t, tb.liveKeys(), 2, name)
			if done {
				t.Logf("crash=%v: %d write points", crash, n-1)
				break
			}
		}
	}
}

// Deleting a key with aliases and grants, with a storage failure at each
// write: the storage's error comes back, the key stays gone for callers,
// and the next sweep finishes the job.
func TestDeleteKeyFaults(t *testing.T) {
	for n := 1; ; n++ {
		tb := newTestBackend(t)
		fs := withFaults(tb)
		id := tb.createKey(map[string]any{"alias": "alias/doomed"})
		tb.ok(logical.UpdateOperation, "aliases/alias/doomed2", map[string]any{"target_key_id": id})
		tb.grantBob(id)
		tb.ok(logical.UpdateOperation, "keys/"+id+"/rotation", nil)
		tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
		tb.advance(8 * 24 * 3600e9)
		fs.arm(n, false)
		err := tb.periodic(context.Background(), &logical.Request{Storage: tb.storage})
		done := fs.writes() < n
		fs.arm(0, false)
		name := fmt.Sprintf("write %d", n)
		if !done {
			require.ErrorIs(t, err, errInjected, name)
		}
		tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/"+id, nil)
		tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/doomed", nil)
		tb.runPeriodic()
		for _, prefix := range []string{keystore.KeyPrefix, keystore.AliasPrefix, keystore.AliasIndexPrefix, grantStoragePrefix, keystore.DeletionPrefix, keystore.RotationPrefix} {
			require.Empty(t, storageKeys(t, tb.storage, prefix), "%s: %s", name, prefix)
		}
		if done {
			t.Logf("%d write points", n-1)
			break
		}
	}
}

// Rotation writes the key, then its index entry: a failure of either is
// returned and leaves a key that rotates correctly afterwards.
func TestRotationFaults(t *testing.T) {
	for n := 1; n <= 3; n++ {
		tb := newTestBackend(t)
		fs := withFaults(tb)
		id := tb.createKey(nil)
		tb.ok(logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 90})
		tb.advance(91 * 24 * 3600e9)
		fs.arm(n, false)
		err := tb.periodic(context.Background(), &logical.Request{Storage: tb.storage})
		fs.arm(0, false)
		name := fmt.Sprintf("write %d", n)
		if n <= 2 {
			require.ErrorIs(t, err, errInjected, name)
		}
		tb.advance(2 * 3600e9) // past the retry backoff
		tb.runPeriodic()
		require.Equal(t, uint32(2), tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_version"], name)
		r := tb.ok(logical.ReadOperation, "keys/"+id+"/rotation", nil)
		require.Equal(t, true, r["key_rotation_enabled"], name)
		require.Len(t, storageKeys(t, tb.storage, keystore.RotationPrefix), 1, name)
	}
}

// ImportKeyMaterial with an expiry writes its index entry and the key: a
// failure at any step is the storage's error, the key stays PendingImport
// with no material (or is complete), and a retry imports.
func TestImportFaults(t *testing.T) {
	material := bytes.Repeat([]byte{7}, 32)
	for n := 1; ; n++ {
		tb := newTestBackend(t)
		fs := withFaults(tb)
		id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
		imp := func() error {
			pub, token := tb.importParams(id, "RSAES_OAEP_SHA_256")
			wrapped, err := keyspec.WrapKeyMaterial(pub, "RSAES_OAEP_SHA_256", material, rand.Reader)
			require.NoError(t, err)
			_, err = tb.do(logical.UpdateOperation, "keys/"+id+"/import", map[string]any{
				"encrypted_key_material": base64.StdEncoding.EncodeToString(wrapped), "import_token": token,
				"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": tb.now().Add(time.Hour).Format(time.RFC3339)})
			return err
		}
		pub, token := tb.importParams(id, "RSAES_OAEP_SHA_256")
		wrapped, err := keyspec.WrapKeyMaterial(pub, "RSAES_OAEP_SHA_256", material, rand.Reader)
		require.NoError(t, err)
		fs.arm(n, false)
		_, err = tb.do(logical.UpdateOperation, "keys/"+id+"/import", map[string]any{
			"encrypted_key_material": base64.StdEncoding.EncodeToString(wrapped), "import_token": token,
			"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": tb.now().Add(time.Hour).Format(time.RFC3339)})
		done := fs.writes() < n
		fs.arm(0, false)
		name := fmt.Sprintf("write %d", n)
		if !done {
			require.ErrorIs(t, err, errInjected, name)
			tb.restart()
			d := tb.ok(logical.ReadOperation, "keys/"+id, nil)
			require.Equal(t, "PendingImport", d["key_state"], name)
			tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
			tb.runPeriodic() // a leftover expiry entry is harmless
			require.NoError(t, imp(), name)
		} else {
			require.NoError(t, err)
		}
		tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
		tb.advance(time.Hour)
		tb.runPeriodic()
		require.Equal(t, "PendingImport", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"], name)
		if done {
			t.Logf("%d write points", n-1)
			break
		}
	}
}

// A failing storage read is the storage's error, never a panic.
func TestStorageReadFaults(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/r"})
	fs := withFaults(tb)
	tb.restart()
	fs.getPrefix = keystore.KeyPrefix
	for _, path := range []string{"encrypt/" + id, "encrypt/alias/r"} {
		_, err := tb.do(logical.UpdateOperation, path, map[string]any{"plaintext": b64s("x")})
		require.ErrorIs(t, err, errInjected, path)
	}
	_, err := tb.do(logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	require.ErrorIs(t, err, errInjected)
	fs.getPrefix = keystore.AliasPrefix
	tb.restart()
	_, err = tb.do(logical.ReadOperation, "keys/alias/r", nil)
	require.ErrorIs(t, err, errInjected)
	fs.getPrefix = ""
	tb.ok(logical.UpdateOperation, "encrypt/alias/r", map[string]any{"plaintext": b64s("x")})
}

// CreateGrant writes the retiring-principal index and the grant; RevokeGrant
// deletes both. With a storage failure or a crash at any of these writes
// the client gets the storage's error, and the grant is either wholly there
// (in ListGrants and ListRetirableGrants, and usable) or wholly absent; a
// retry then succeeds.
func TestGrantFaults(t *testing.T) {
	grant := map[string]any{"grantee_principal": "entity_name:bob", "retiring_principal": "entity_name:ops",
		"operations": "Encrypt", "name": "nightly"}
	listed := func(tb *testBackend, id string) (int, int) {
		g, _ := tb.ok(logical.ListOperation, "keys/"+id+"/grants", nil)["keys"].([]string)
		r, _ := tb.ok(logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "entity_name:ops"})["keys"].([]string)
		return len(g), len(r)
	}
	for _, crash := range []bool{false, true} {
		for n := 1; ; n++ {
			tb := newTestBackend(t)
			fs := withFaults(tb)
			id := tb.createKey(nil)
			tb.ok(logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "entity_name:ops"})
			fs.arm(n, crash)
			_, err := tb.do(logical.UpdateOperation, "keys/"+id+"/grants", grant)
			done := fs.writes() < n
			fs.arm(0, false)
			if crash {
				tb.restart()
			}
			name := fmt.Sprintf("create crash=%v write %d", crash, n)
			g, r := listed(tb, id)
			if err != nil {
				require.ErrorIs(t, err, errInjected, name)
				require.Equal(t, [2]int{0, 0}, [2]int{g, r}, name)
			} else {
				require.Equal(t, [2]int{1, 1}, [2]int{g, r}, name)
			}
			out := tb.ok(logical.UpdateOperation, "keys/"+id+"/grants", grant) // the client's retry
			g, r = listed(tb, id)
			require.Equal(t, [2]int{1, 1}, [2]int{g, r}, name)

			// Revoke the grant, failing at the same write.
			fs.arm(n, crash)
			_, err = tb.do(logical.DeleteOperation, "keys/"+id+"/grants/"+out["grant_id"].(string), nil)
			fs.arm(0, false)
			if crash {
				tb.restart()
			}
			name = fmt.Sprintf("revoke crash=%v write %d", crash, n)
			g, r = listed(tb, id)
			if err != nil {
				// Refused before the grant's own delete: still wholly in force.
				require.ErrorIs(t, err, errInjected, name)
				require.Equal(t, [2]int{1, 1}, [2]int{g, r}, name)
			} else {
				require.Equal(t, [2]int{0, 0}, [2]int{g, r}, name)
			}
			if done {
				t.Logf("%d write points", n-1)
				break
			}
		}
	}
}
