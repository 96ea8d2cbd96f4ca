package kms

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

func (tb *testBackend) runPeriodic() {
	tb.t.Helper()
	require.NoError(tb.t, tb.periodic(context.Background(), &logical.Request{Storage: tb.storage}))
}

func blobVersion(t *testing.T, blob any) uint32 {
	t.Helper()
	b, err := ciphertext.Parse(unb64(t, blob))
	require.NoError(t, err)
	return b.KeyVersion
}

func TestAutomaticRotation(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	key := "keys/" + id
	enc := func() any {
		return tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("v")})["ciphertext_blob"]
	}
	old := enc()
	require.Equal(t, uint32(1), blobVersion(t, old))

	tb.fails(kmserr.Validation, logical.UpdateOperation, key+"/rotation", map[string]any{"rotation_period_days": 89})
	tb.fails(kmserr.Validation, logical.UpdateOperation, key+"/rotation", map[string]any{"rotation_period_days": 2561})
	st := tb.ok(logical.UpdateOperation, key+"/rotation", map[string]any{"rotation_period_days": 90})
	require.Equal(t, true, st["key_rotation_enabled"])
	require.Equal(t, "2026-04-02T03:04:05Z", st["next_rotation_date"])

	tb.advance(90*24*time.Hour - time.Minute)
	tb.runPeriodic()
	require.EqualValues(t, 1, tb.ok(logical.ReadOperation, key, nil)["current_key_version"], "not due yet")
	tb.advance(time.Minute)
	tb.runPeriodic()
	require.EqualValues(t, 2, tb.ok(logical.ReadOperation, key, nil)["current_key_version"])
	require.Equal(t, uint32(2), blobVersion(t, enc()))
	require.Equal(t, "2026-07-01T03:04:05Z", tb.ok(logical.ReadOperation, key+"/rotation", nil)["next_rotation_date"])

	// Several rotations later the first ciphertext still decrypts, and
	// re-encrypt moves it to the newest version.
	for range 3 {
		tb.advance(90 * 24 * time.Hour)
		tb.runPeriodic()
	}
	require.EqualValues(t, 5, tb.ok(logical.ReadOperation, key, nil)["current_key_version"])
	require.Equal(t, "v", string(unb64(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": old})["plaintext"])))
	moved := tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": old})["ciphertext_blob"]
	require.Equal(t, uint32(5), blobVersion(t, moved))

	rot := tb.ok(logical.ListOperation, key+"/rotations", nil)
	require.Len(t, rot["keys"], 4)
	require.Equal(t, "AUTOMATIC", rot["key_info"].(map[string]any)["0000000002"].(map[string]any)["rotation_type"])

	// A disabled key is skipped; enabling it rotates it at the next run.
	tb.ok(logical.UpdateOperation, key+"/disable", nil)
	tb.advance(100 * 24 * time.Hour)
	tb.runPeriodic()
	require.EqualValues(t, 5, tb.ok(logical.ReadOperation, key, nil)["current_key_version"])
	tb.ok(logical.UpdateOperation, key+"/enable", nil)
	tb.runPeriodic()
	require.EqualValues(t, 6, tb.ok(logical.ReadOperation, key, nil)["current_key_version"])

	// Disabling rotation stops it.
	tb.ok(logical.DeleteOperation, key+"/rotation", nil)
	require.Equal(t, false, tb.ok(logical.ReadOperation, key+"/rotation", nil)["key_rotation_enabled"])
	tb.advance(400 * 24 * time.Hour)
	tb.runPeriodic()
	require.EqualValues(t, 6, tb.ok(logical.ReadOperation, key, nil)["current_key_version"])
	left, err := tb.storage.List(context.Background(), keystore.RotationPrefix)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestOnDemandRotation(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	key := "keys/" + id
	tb.ok(logical.UpdateOperation, key+"/rotation", nil) // default 365 days
	next := tb.ok(logical.ReadOperation, key+"/rotation", nil)["next_rotation_date"]
	blobs := []any{}
	for i := range 25 {
		blobs = append(blobs, tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"])
		require.EqualValues(t, i+2, tb.ok(logical.UpdateOperation, key+"/rotate", nil)["current_key_version"])
	}
	tb.fails(kmserr.LimitExceeded, logical.UpdateOperation, key+"/rotate", nil)
	st := tb.ok(logical.ReadOperation, key+"/rotation", nil)
	require.Equal(t, 0, st["on_demand_rotations_remaining"])
	require.Equal(t, next, st["next_rotation_date"], "on-demand rotation keeps the automatic schedule")
	for _, b := range blobs {
		tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": b})
	}
	first := tb.ok(logical.ListOperation, key+"/rotations", map[string]any{"limit": 10})
	require.Len(t, first["keys"], 10)
	require.Equal(t, "ON_DEMAND", first["key_info"].(map[string]any)["0000000002"].(map[string]any)["rotation_type"])
	require.Equal(t, true, first["truncated"])

	tb.ok(logical.UpdateOperation, key+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, key+"/rotate", nil)
}

func TestRotationRefusals(t *testing.T) {
	tb := newTestBackend(t)
	for _, spec := range []string{"RSA_2048", "HMAC_256", "ECC_NIST_P256"} {
		id := tb.createKey(map[string]any{"key_spec": spec})
		tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/rotation", nil)
		tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
		tb.fails(kmserr.UnsupportedOperation, logical.ReadOperation, "keys/"+id+"/rotation", nil)
	}
	id := tb.createKey(nil)
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/alias/x/rotate", nil)
}

// Another node's change to the rotation index reloads the queue.
func TestRotationQueueInvalidate(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	tb.runPeriodic() // loads an empty queue
	// Another node enables rotation: its storage writes reach us, its heap
	// does not.
	e, err := tb.keys.Get(context.Background(), tb.storage, id)
	require.NoError(t, err)
	c := e.Clone()
	c.RotationPeriodDays, c.NextRotation = 90, tb.now().Add(90*24*time.Hour)
	entry, _ := logical.StorageEntryJSON(keystore.KeyPrefix+id, c)
	require.NoError(t, tb.storage.Put(context.Background(), entry))
	entry, _ = logical.StorageEntryJSON(keystore.RotationPrefix+id, &keystore.RotationEntry{KeyID: id, Due: c.NextRotation})
	require.NoError(t, tb.storage.Put(context.Background(), entry))
	tb.Invalidate(context.Background(), keystore.KeyPrefix+id)
	tb.Invalidate(context.Background(), keystore.RotationPrefix+id)

	tb.advance(91 * 24 * time.Hour)
	tb.runPeriodic()
	require.EqualValues(t, 2, tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_version"])
}

func TestKeyLastUsage(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	require.NotContains(t, tb.ok(logical.ReadOperation, "keys/"+id, nil), "last_used_date")
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	d := tb.ok(logical.ReadOperation, "keys/"+id, nil)
	require.Equal(t, "Encrypt", d["last_used_operation"])
	require.Equal(t, "2026-01-02T03:04:05Z", d["last_used_date"])

	countWrites := func() int {
		keys, err := tb.storage.List(context.Background(), keystore.UsagePrefix)
		require.NoError(t, err)
		return len(keys)
	}
	require.Equal(t, 1, countWrites())
	// Within the minute, usage is tracked in memory only.
	tb.advance(10 * time.Second)
	tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	raw, _ := tb.storage.Get(context.Background(), keystore.UsagePrefix+id)
	var stored keystore.UsageEntry
	require.NoError(t, raw.DecodeJSON(&stored))
	require.Equal(t, "Encrypt", stored.Operation, "not persisted again within a minute")
	require.Equal(t, "Decrypt", tb.ok(logical.ReadOperation, "keys/"+id, nil)["last_used_operation"])
	tb.advance(time.Minute)
	tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	raw, _ = tb.storage.Get(context.Background(), keystore.UsagePrefix+id)
	require.NoError(t, raw.DecodeJSON(&stored))
	require.Equal(t, "Decrypt", stored.Operation)
	// A refused operation is not a use.
	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.Equal(t, "Decrypt", tb.ok(logical.ReadOperation, "keys/"+id, nil)["last_used_operation"])
}

func TestGetKeyLastUsage(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/used"})
	d := tb.ok(logical.ReadOperation, "keys/"+id+"/last-usage", nil)
	require.Equal(t, "2026-01-02T03:04:05Z", d["key_creation_date"])
	require.Equal(t, d["key_creation_date"], d["tracking_start_date"])
	require.NotContains(t, d, "last_used_operation")
	// AWS refuses aliases here.
	tb.fails(kmserr.Validation, logical.ReadOperation, "keys/alias/used/last-usage", nil)

	tb.advance(time.Hour)
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": blob})
	d = tb.ok(logical.ReadOperation, "keys/"+id+"/last-usage", nil)
	require.Equal(t, "ReEncrypt", d["last_used_operation"], "both halves of a re-encrypt are ReEncrypt")
	require.Equal(t, "2026-01-02T04:04:05Z", d["last_used_date"])

	out := tb.aws("", "GetKeyLastUsage", map[string]any{"KeyId": id})
	require.Equal(t, id, out["KeyId"])
	require.Equal(t, float64(tb.clock.Add(-time.Hour).Unix()), out["KeyCreationDate"])
	require.Equal(t, map[string]any{"Operation": "ReEncrypt", "Timestamp": float64(tb.clock.Unix())}, out["KeyLastUsage"])
	fresh := tb.createKey(nil)
	require.Equal(t, map[string]any{}, tb.aws("", "GetKeyLastUsage", map[string]any{"KeyId": fresh})["KeyLastUsage"])

	// It is an operation of its own in key policies.
	withIdentities(tb)
	doc := policyDoc(t, map[string]any{"Sid": "describe", "Effect": "Allow", "Principal": principals("entity:ops"), "Action": actions("DescribeKey")},
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("no_entity"), "Action": actions("PutKeyPolicy")})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
	tb.asFails(kmserr.AccessDenied, "ops", logical.ReadOperation, "keys/"+id+"/last-usage", nil)
}

// One key whose rotation fails does not stop the others, and is retried.
func TestRotationFailureDoesNotStopOthers(t *testing.T) {
	tb := newTestBackend(t)
	fs := withFaults(tb)
	first := tb.createKey(nil)
	tb.advance(time.Hour)
	second := tb.createKey(nil)
	for _, id := range []string{first, second} {
		tb.ok(logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 90})
	}
	tb.advance(91 * 24 * time.Hour)
	fs.prefix = keystore.KeyPrefix + first // the first due key cannot be written
	err := tb.periodic(context.Background(), &logical.Request{Storage: tb.storage})
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, uint32(1), tb.ok(logical.ReadOperation, "keys/"+first, nil)["current_key_version"])
	require.Equal(t, uint32(2), tb.ok(logical.ReadOperation, "keys/"+second, nil)["current_key_version"])

	fs.prefix = ""
	tb.runPeriodic() // within the backoff: not retried yet
	require.Equal(t, uint32(1), tb.ok(logical.ReadOperation, "keys/"+first, nil)["current_key_version"])
	tb.advance(keystore.RotationRetryMin)
	tb.runPeriodic()
	require.Equal(t, uint32(2), tb.ok(logical.ReadOperation, "keys/"+first, nil)["current_key_version"])
}

// Disabling rotation removes the index entry under the key's lock: an
// enable landing between the key write and the index delete can no
// longer leave an enabled key without an index entry.
func TestRotationIndexUnderLock(t *testing.T) {
	tb := newTestBackend(t)
	ps := withPausing(tb)
	id := tb.createKey(nil)
	tb.ok(logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 90})

	reached, release := ps.pause(keystore.RotationPrefix + id)
	disabled := tb.inBackground(logical.DeleteOperation, "keys/"+id+"/rotation", nil)
	<-reached // the key is written with rotation off; the index delete waits
	indexPut := ps.notifyPut(keystore.RotationPrefix + id)
	enabled := tb.inBackground(logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 100})
	select {
	case <-indexPut: // the enable ran to its index write meanwhile (the old code)
	case <-time.After(200 * time.Millisecond): // it waits for the key's lock
	}
	close(release)
	require.NoError(t, <-disabled)
	require.NoError(t, <-enabled)
	require.Equal(t, true, tb.ok(logical.ReadOperation, "keys/"+id+"/rotation", nil)["key_rotation_enabled"])
	require.Len(t, storageKeys(t, tb.storage, keystore.RotationPrefix), 1, "an enabled key has its index entry")
}
