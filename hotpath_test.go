package kms

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// readCountingStorage counts the reads that reach storage.
type readCountingStorage struct {
	logical.Storage
	gets, lists atomic.Int64
}

func (s *readCountingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	s.gets.Add(1)
	return s.Storage.Get(ctx, key)
}

func (s *readCountingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	s.lists.Add(1)
	return s.Storage.List(ctx, prefix)
}

// The hot path (encrypt, decrypt, sign, verify, MACs), by key id, ARN and
// alias, single and batch, reads nothing from storage once the key, its
// grants, the aliases and the configuration are cached.
func TestHotPathReadsNoStorage(t *testing.T) {
	tb := newTestBackend(t)
	cs := &readCountingStorage{Storage: tb.storage}
	tb.storage = cs
	sym := tb.createKey(map[string]any{"alias": "alias/hot"})
	ecc := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	hmac := tb.createKey(map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"})
	arn := tb.ok(logical.ReadOperation, "keys/"+sym, nil)["arn"].(string)

	blob := tb.ok(logical.UpdateOperation, "encrypt/"+sym, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	sig := tb.ok(logical.UpdateOperation, "sign/"+ecc, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"})["signature"]
	mac := tb.ok(logical.UpdateOperation, "generate-mac/"+hmac, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256"})["mac"]

	ops := []struct {
		path string
		data map[string]any
	}{
		{"encrypt/" + sym, map[string]any{"plaintext": b64s("x")}},
		{"encrypt/alias/hot", map[string]any{"plaintext": b64s("x")}},
		{"encrypt/" + arn, map[string]any{"plaintext": b64s("x")}},
		{"decrypt", map[string]any{"ciphertext_blob": blob}},
		{"decrypt/" + sym, map[string]any{"ciphertext_blob": blob}},
		{"decrypt/alias/hot", map[string]any{"ciphertext_blob": blob}},
		{"encrypt/" + sym, map[string]any{"batch_input": []any{map[string]any{"plaintext": b64s("a")}, map[string]any{"plaintext": b64s("b")}}}},
		{"decrypt", map[string]any{"batch_input": []any{map[string]any{"ciphertext_blob": blob}}}},
		{"re-encrypt/" + sym, map[string]any{"ciphertext_blob": blob}},
		{"sign/" + ecc, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"}},
		{"verify/" + ecc, map[string]any{"message": b64s("m"), "signature": sig, "signing_algorithm": "ECDSA_SHA_256"}},
		{"generate-mac/" + hmac, map[string]any{"message": b64s("m"), "mac_algorithm": "HMAC_SHA_256"}},
		{"verify-mac/" + hmac, map[string]any{"message": b64s("m"), "mac": mac, "mac_algorithm": "HMAC_SHA_256"}},
	}
	// One pass fills the caches (grant indexes load on first use).
	for _, op := range ops {
		tb.ok(logical.UpdateOperation, op.path, op.data)
	}
	require.Positive(t, cs.gets.Load()+cs.lists.Load(), "the warm-up pass loads the grant indexes through the wrapper")
	cs.gets.Store(0)
	cs.lists.Store(0)
	for range 3 {
		for _, op := range ops {
			tb.ok(logical.UpdateOperation, op.path, op.data)
			require.Zero(t, cs.gets.Load(), "storage Get on the hot path: %s", op.path)
			require.Zero(t, cs.lists.Load(), "storage List on the hot path: %s", op.path)
		}
	}
	// The AWS endpoint's Encrypt is the same hot path.
	tb.aws("", "Encrypt", map[string]any{"KeyId": sym, "Plaintext": b64s("x")})
	require.Zero(t, cs.gets.Load()+cs.lists.Load(), "storage read on the AWS endpoint's Encrypt")
}

// A key in a custom key store is on the hot path too: whether its store is
// connected is answered from the node's open connections, not by reading
// the store record (it was read twice per request).
func TestHotPathReadsNoStorageHSMKey(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	cs := &readCountingStorage{Storage: h.tb.storage}
	h.tb.storage = cs
	id := h.key(nil)
	blob := h.tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	h.tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	cs.gets.Store(0)
	cs.lists.Store(0)
	for range 3 {
		h.tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
		h.tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
		require.Zero(t, cs.gets.Load()+cs.lists.Load(), "storage read on an HSM key's encrypt or decrypt")
	}
	// Disconnected, the key is Unavailable at once, still without a read.
	h.disconnect()
	cs.gets.Store(0)
	_, err := h.tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	requireKMSError(t, err, kmserr.InvalidState)
	h.connect()
	h.tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
}
