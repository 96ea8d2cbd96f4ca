package kms

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// encryptionsReserved is the key's stored reservation of encryptions.
func (tb *testBackend) encryptionsReserved(id string) uint64 {
	tb.t.Helper()
	n, err := tb.keys.EncryptionsReserved(context.Background(), tb.storage, id)
	require.NoError(tb.t, err)
	return n
}

// successor is a new plugin process on the same storage, initialized as
// the node that becomes active (it connects the stores again); the old
// one's token connections are closed.
func (tb *testBackend) successor() *testBackend {
	tb.t.Helper()
	tb.hsmLive.CloseAll()
	conf := logical.TestBackendConfig()
	conf.StorageView = tb.storage
	raw, err := Factory(context.Background(), conf)
	require.NoError(tb.t, err)
	next := &testBackend{backend: raw.(*backend), t: tb.t, storage: tb.storage, clock: tb.clock}
	next.lookupIdentity = tb.lookupIdentity
	next.backend.now = func() time.Time {
		next.mu.Lock()
		defer next.mu.Unlock()
		return next.clock
	}
	tb.t.Cleanup(next.hsmLive.CloseAll)
	require.NoError(tb.t, next.Initialize(context.Background(), &logical.InitializationRequest{Storage: tb.storage}))
	return next
}

// Every encryption in the token counts, whatever asks for it: Encrypt,
// ReEncrypt's destination, data keys, data key pairs, each batch item;
// decryption and ReEncrypt's source do not.
func TestHSMKeyEncryptionCount(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	tb.keys.EncryptionBlock = 1 // every encryption is a reservation: the count is exact
	id := h.key(nil)
	soft := tb.createKey(nil)
	softBlob := tb.ok(logical.UpdateOperation, "encrypt/"+soft, map[string]any{"plaintext": b64s("s")})["ciphertext_blob"]
	require.Zero(t, tb.encryptionsReserved(id))
	var blob any
	steps := []struct {
		name  string
		count uint64
		run   func()
	}{
		{"encrypt", 1, func() {
			blob = tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
		}},
		{"aws encrypt", 1, func() { tb.aws("", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x")}) }},
		{"decrypt", 0, func() { tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob}) }},
		{"data key", 1, func() {
			tb.ok(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
		}},
		{"wrapped data key", 1, func() { tb.ok(logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"number_of_bytes": 16}) }},
		{"data key pair", 1, func() {
			tb.ok(logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
		}},
		{"wrapped data key pair", 1, func() {
			tb.ok(logical.UpdateOperation, "data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
		}},
		{"re-encrypt into", 1, func() { tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": softBlob}) }},
		{"re-encrypt out of", 0, func() { tb.ok(logical.UpdateOperation, "re-encrypt/"+soft, map[string]any{"ciphertext_blob": blob}) }},
		{"batch of 3", 3, func() {
			in := []any{map[string]any{"plaintext": b64s("a")}, map[string]any{"plaintext": b64s("b")}, map[string]any{"plaintext": b64s("c")}}
			for _, r := range batchResults(t, tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in})) {
				require.NotEmpty(t, r["ciphertext_blob"])
			}
		}},
		{"dry run", 0, func() {
			_, out := tb.awsCall("", "aws", "TrentService.Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true})
			require.Equal(t, kmserr.DryRunOperation, out["__type"])
		}},
	}
	for _, s := range steps {
		before := tb.encryptionsReserved(id)
		s.run()
		require.Equal(t, before+s.count, tb.encryptionsReserved(id), s.name)
	}
	require.Zero(t, tb.encryptionsReserved(soft), "software keys are not counted")
	require.Empty(t, storageKeys(t, tb.storage, keystore.EncryptionCountPrefix+soft))
}

// At the bound every encryption with the key is refused with
// KMSInvalidStateException naming the limit and the remedy, writing
// nothing; the key still decrypts.
func TestHSMKeyEncryptionLimit(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	tb.keys.EncryptionLimit, tb.keys.EncryptionBlock = 3, 2
	id := h.key(nil)
	soft := tb.createKey(nil)
	softBlob := tb.ok(logical.UpdateOperation, "encrypt/"+soft, map[string]any{"plaintext": b64s("s")})["ciphertext_blob"]
	var blobs []any
	for range 3 {
		blobs = append(blobs, tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"])
	}
	require.Equal(t, uint64(3), tb.encryptionsReserved(id))
	before := snapshot(t, tb.storage)
	for _, r := range []struct {
		path string
		data map[string]any
	}{
		{"encrypt/" + id, map[string]any{"plaintext": b64s("x")}},
		{"data-key/plaintext/" + id, map[string]any{"key_spec": "AES_256"}},
		{"data-key-pair/wrapped/" + id, map[string]any{"key_pair_spec": "ECC_NIST_P256"}},
		{"re-encrypt/" + id, map[string]any{"ciphertext_blob": softBlob}},
	} {
		ke := tb.fails(kmserr.InvalidState, logical.UpdateOperation, r.path, r.data)
		for _, want := range []string{"NIST SP 800-38D", "(3,", "create a new key", "cannot be rotated"} {
			require.Contains(t, ke.Msg, want, r.path)
		}
	}
	msg := tb.awsFails(kmserr.InvalidState, "", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x")})
	require.Contains(t, msg, "NIST SP 800-38D")
	tb.awsFails(kmserr.InvalidState, "", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true})
	// A dry run of every operation that encrypts checks the bound.
	for _, op := range []string{"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"} {
		tb.awsFails(kmserr.InvalidState, "", op, map[string]any{"KeyId": id, "KeyPairSpec": "ECC_NIST_P256", "DryRun": true})
	}
	tb.awsFails(kmserr.InvalidState, "", "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256", "DryRun": true})
	require.Equal(t, before, snapshot(t, tb.storage), "a refusal at the limit wrote nothing")

	for _, b := range blobs {
		tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": b})
	}
	tb.ok(logical.UpdateOperation, "re-encrypt/"+soft, map[string]any{"ciphertext_blob": blobs[0]})
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	// Another key of the store has its own count.
	tb.ok(logical.UpdateOperation, "encrypt/"+h.key(nil), map[string]any{"plaintext": b64s("x")})
}

// The count survives a restart: the new process continues above the
// stored reservation, and stops at the bound.
func TestHSMKeyEncryptionCountRestart(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	tb.keys.EncryptionLimit, tb.keys.EncryptionBlock = 12, 5
	id := h.key(nil)
	for range 7 {
		tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	}
	require.Equal(t, uint64(10), tb.encryptionsReserved(id))

	next := tb.successor()
	next.keys.EncryptionLimit, next.keys.EncryptionBlock = 12, 5
	next.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.Equal(t, uint64(12), next.encryptionsReserved(id), "the new process reserved above the old reservation, up to the bound")
	next.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	// 7 + 2 encryptions made; the 3 the old process held unused count as made.
	next.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
}

// A reservation that cannot be written refuses the encryption: nothing is
// encrypted that the stored count does not include.
func TestHSMKeyEncryptionCountWriteFails(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	tb.keys.EncryptionBlock = 2
	id := h.key(nil)
	fs := withFaults(tb)
	fs.mu.Lock()
	fs.prefix = keystore.EncryptionCountPrefix
	fs.mu.Unlock()
	resp, err := tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.ErrorIs(t, err, errInjected)
	require.True(t, resp == nil || resp.Data["ciphertext_blob"] == nil, "no ciphertext without a count")
	require.Zero(t, tb.encryptionsReserved(id))

	fs.mu.Lock()
	fs.prefix = ""
	fs.mu.Unlock()
	for range 2 {
		tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	}
	fs.mu.Lock()
	fs.prefix = keystore.EncryptionCountPrefix
	fs.mu.Unlock()
	_, err = tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.ErrorIs(t, err, errInjected, "the block is spent and the next cannot be reserved")
	require.Equal(t, uint64(2), tb.encryptionsReserved(id))
}

// Concurrent requests, each a batch whose items run in parallel, never
// pass the bound: exactly the bound succeeds, the rest is refused. Run
// with -race.
func TestHSMKeyEncryptionCountConcurrent(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	const limit = 50
	tb.keys.EncryptionLimit, tb.keys.EncryptionBlock = limit, 4
	id := h.key(nil)
	in := make([]any, 10)
	for i := range in {
		in[i] = map[string]any{"plaintext": b64s("x")}
	}
	var mu sync.Mutex
	made, refused := 0, 0
	var other []any
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				other = append(other, err)
				return
			}
			for _, r := range resp.Data["batch_results"].([]map[string]any) {
				switch {
				case r["ciphertext_blob"] != nil:
					made++
				case r["error_type"] == kmserr.InvalidState:
					refused++
				default:
					other = append(other, r)
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, other)
	require.Equal(t, limit, made)
	require.Equal(t, 80-limit, refused)
	require.Equal(t, uint64(limit), tb.encryptionsReserved(id))
}

// Deleting the key removes its count.
func TestHSMKeyEncryptionCountDeleted(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.NotEmpty(t, storageKeys(t, tb.storage, keystore.EncryptionCountPrefix))
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(8 * 24 * time.Hour)
	tb.runPeriodic()
	require.Empty(t, storageKeys(t, tb.storage, keystore.EncryptionCountPrefix))
}
