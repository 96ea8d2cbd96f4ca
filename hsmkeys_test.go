package kms

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// hsmKeyEnv is a backend with one connected store on its own token.
type hsmKeyEnv struct {
	*hsmEnv
	tb    *testBackend
	tok   hsmtest.Token
	store string
}

func newHSMKeyEnv(t testing.TB, tokens int) *hsmKeyEnv {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, tokens)
	h := &hsmKeyEnv{hsmEnv: env, tb: tb, tok: env.token(t)}
	h.store = env.store(tb, h.tok)
	h.connect()
	return h
}

func (h *hsmKeyEnv) connect() {
	h.tb.ok(logical.UpdateOperation, "custom-key-stores/"+h.store+"/connect", nil)
	require.Equal(h.tb.t, "CONNECTED", h.tb.ok(logical.ReadOperation, "custom-key-stores/"+h.store, nil)["connection_state"])
}

func (h *hsmKeyEnv) disconnect() {
	h.tb.ok(logical.UpdateOperation, "custom-key-stores/"+h.store+"/disconnect", nil)
}

// key creates a key in the store and returns its id.
func (h *hsmKeyEnv) key(extra map[string]any) string {
	h.tb.t.Helper()
	in := map[string]any{"custom_key_store_id": h.store}
	for k, v := range extra {
		in[k] = v
	}
	return h.tb.createKey(in)
}

// label is the token object label of the key's first version, read from
// the stored entry.
func (h *hsmKeyEnv) label(id string) string {
	h.tb.t.Helper()
	e := h.tb.mustKey(id)
	require.Len(h.tb.t, e.Versions, 1)
	return e.Versions[0].HSMLabel
}

// token is the plugin's open connection to the store's token.
func (h *hsmKeyEnv) token() *hsm.Token {
	h.tb.t.Helper()
	tok, ok := h.tb.hsmLive.Token(h.store)
	require.True(h.tb.t, ok)
	return tok
}

// objects are the labels pkcs11-tool lists in the store's token.
func (h *hsmKeyEnv) objects() []string {
	h.tb.t.Helper()
	var out []string
	for _, line := range strings.Split(h.soft.ListObjects(h.tb.t, h.tok), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "label:" {
			out = append(out, f[1])
		}
	}
	return out
}

// requireNoMaterial checks a key of a store holds no key bytes: every
// version has a token label and no material, in the parsed entry and in
// the raw stored JSON.
func requireNoMaterial(t *testing.T, tb *testBackend, id string) {
	t.Helper()
	e := tb.mustKey(id)
	require.NotEmpty(t, e.Versions)
	for _, v := range e.Versions {
		require.Empty(t, v.Material, "version %d of an HSM key holds material", v.Version)
		require.NotEmpty(t, v.HSMLabel)
	}
	require.Zero(t, e.ParsedCount(), "no software key is parsed for an HSM key")
	raw, err := tb.storage.Get(context.Background(), keystore.KeyPrefix+id)
	require.NoError(t, err)
	require.NotContains(t, string(raw.Value), `"material"`+":\"", "the stored entry has no material")
}

// CreateKey in a custom key store: origin AWS_CLOUDHSM, the object made in
// the token non-extractable and sensitive, no material in storage, and
// DescribeKey naming the store and its connection.
func TestHSMKeyCreate(t *testing.T) {
	h := newHSMKeyEnv(t, 2)
	tb := h.tb
	d := tb.ok(logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": h.store, "alias": "alias/hsm"})
	id := d["key_id"].(string)
	require.Equal(t, "AWS_CLOUDHSM", d["origin"])
	require.Equal(t, h.store, d["custom_key_store_id"])
	st, err := tb.cks.Get(context.Background(), tb.storage, h.store)
	require.NoError(t, err)
	require.Equal(t, st.Connection, d["cloud_hsm_cluster_id"])
	require.Equal(t, "Enabled", d["key_state"])
	require.Equal(t, []string{"SYMMETRIC_DEFAULT"}, d["encryption_algorithms"])
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/hsm", nil)["key_id"])
	// Origin AWS_CLOUDHSM may also be given.
	id2 := h.key(map[string]any{"origin": "AWS_CLOUDHSM"})

	for _, k := range []string{id, id2} {
		requireNoMaterial(t, tb, k)
		label := h.label(k)
		require.Equal(t, keystore.HSMObjectLabel(k, 1), label)
		a, err := h.token().KeyAttributes(context.Background(), label)
		require.NoError(t, err)
		require.Equal(t, hsm.Attributes{Token: true, Sensitive: true, Extractable: false, AlwaysSensitive: true, NeverExtractable: true, ValueLen: 32}, a)
		// And as a tool nobody here wrote sees it.
		obj := hsmtest.Object(h.soft.ListObjects(t, h.tok), label)
		for _, want := range []string{"Secret Key Object; AES length 32", "sensitive", "never extractable"} {
			require.Contains(t, obj, want)
		}
		for _, line := range strings.Split(obj, "\n") {
			if access, ok := strings.CutPrefix(strings.TrimSpace(line), "Access:"); ok {
				for _, flag := range strings.Split(access, ",") {
					require.NotEqual(t, "extractable", strings.TrimSpace(flag), "pkcs11-tool lists the key as extractable")
				}
			}
		}
	}
	keys, err := tb.cks.Keys(context.Background(), tb.storage, h.store)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{id, id2}, keys)
	require.Empty(t, storageKeys(t, tb.storage, keystore.CreatingPrefix), "no create is left unfinished")

	// The store with keys cannot be deleted.
	h.disconnect()
	tb.fails(kmserr.CustomKeyStoreHasCMKs, logical.DeleteOperation, "custom-key-stores/"+h.store, nil)
	h.connect()
}

// What AWS refuses for keys in a custom key store, with nothing made.
func TestHSMKeyCreateRefusals(t *testing.T) {
	h := newHSMKeyEnv(t, 2)
	tb := h.tb
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"custom_key_store_id": h.store}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys", with(map[string]any{"key_spec": "RSA_2048"}))
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys", with(map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", with(map[string]any{"key_usage": "SIGN_VERIFY"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", with(map[string]any{"origin": "AWS_KMS"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", with(map[string]any{"origin": "EXTERNAL"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"origin": "AWS_CLOUDHSM"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": "not-a-store"})
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": "cks-0123456789abcdef0"})
	// A store that exists but is not connected.
	other := h.hsmEnv.store(tb, h.hsmEnv.token(t))
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": other})
	h.disconnect()
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": h.store})
	h.connect()
	require.Empty(t, tb.liveKeys())
	require.Empty(t, h.objects(), "no refused create made an object")
	keys, err := tb.cks.Keys(context.Background(), tb.storage, h.store)
	require.NoError(t, err)
	require.Empty(t, keys)
}

// A create that fails at any storage write, or crashes there, leaves no
// object in the token once the sweep ran, no key, and no index entry.
func TestHSMKeyCreateFaults(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	fs := withFaults(tb)
	for _, crash := range []bool{false, true} {
		for _, alias := range []string{"", "alias/faulty"} {
			for n := 1; ; n++ {
				in := map[string]any{"custom_key_store_id": h.store}
				if alias != "" {
					in["alias"] = alias
				}
				fs.arm(n, crash)
				resp, err := tb.do(logical.UpdateOperation, "keys", in)
				done := fs.writes() < n
				fs.arm(0, false)
				if crash {
					tb.restart()
				}
				tb.runPeriodic()
				live := tb.liveKeys()
				if err == nil {
					id := resp.Data["key_id"].(string)
					require.Equal(t, []string{id}, live)
					require.Equal(t, []string{h.label(id)}, h.objects())
					tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
					tb.advance(8 * 24 * time.Hour)
					tb.runPeriodic()
				} else {
					require.ErrorIs(t, err, errInjected)
				}
				require.Empty(t, tb.liveKeys())
				require.Empty(t, h.objects(), "crash=%v alias=%q write %d left an object in the token", crash, alias, n)
				keys, kerr := tb.cks.Keys(context.Background(), tb.storage, h.store)
				require.NoError(t, kerr)
				require.Empty(t, keys)
				require.Empty(t, storageKeys(t, tb.storage, keystore.CreatingPrefix))
				if done {
					break
				}
			}
		}
	}
}

// Every cryptographic operation with a key in a store runs in the token,
// in ciphertext format 3, with the encryption context bound.
func TestHSMKeyCrypto(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	soft := tb.createKey(nil)
	ec := map[string]any{"tenant": "a", "purpose": "test"}
	pt := base64.StdEncoding.EncodeToString([]byte("secret in the token"))
	enc := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": ec})
	blob := unb64(t, enc["ciphertext_blob"])
	b, err := ciphertext.Parse(blob)
	require.NoError(t, err)
	require.Equal(t, 3, b.Format)
	require.Equal(t, id, b.KeyID)
	require.Equal(t, uint32(1), b.KeyVersion)
	require.Len(t, blob, len("secret in the token")+ciphertext.OverheadV3)

	// Decrypt with and without the key id.
	for _, path := range []string{"decrypt/" + id, "decrypt"} {
		dec := tb.ok(logical.UpdateOperation, path, map[string]any{"ciphertext_blob": enc["ciphertext_blob"], "encryption_context": ec})
		require.Equal(t, pt, dec["plaintext"])
		require.Equal(t, id, dec["key_id"])
	}
	// Wrong or missing context, tampered blob, another key: refused.
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": enc["ciphertext_blob"], "encryption_context": map[string]any{"tenant": "b", "purpose": "test"}})
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": enc["ciphertext_blob"]})
	for _, i := range []int{23, 30, 40, len(blob) - 1} {
		c := append([]byte(nil), blob...)
		c[i] ^= 1
		tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(c), "encryption_context": ec})
	}
	tb.fails(kmserr.IncorrectKey, logical.UpdateOperation, "decrypt/"+soft, map[string]any{"ciphertext_blob": enc["ciphertext_blob"], "encryption_context": ec})
	// A software key's blob relabelled with the HSM key's id and format 3.
	sblob := unb64(t, tb.ok(logical.UpdateOperation, "encrypt/"+soft, map[string]any{"plaintext": pt})["ciphertext_blob"])
	forged := append(append([]byte{}, blob[:22]...), sblob[22+32:]...)
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(forged)})

	// Data keys and data key pairs are wrapped in the token.
	dk := tb.ok(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256", "encryption_context": ec})
	require.Equal(t, dk["plaintext"], tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": dk["ciphertext_blob"], "encryption_context": ec})["plaintext"])
	wrapped := tb.ok(logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"number_of_bytes": 16})
	requireFormat3(t, wrapped["ciphertext_blob"])
	require.Len(t, unb64(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": wrapped["ciphertext_blob"]})["plaintext"]), 16)
	pair := tb.ok(logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256", "encryption_context": ec})
	requireFormat3(t, pair["private_key_ciphertext_blob"])
	require.Equal(t, pair["private_key_plaintext"], tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": pair["private_key_ciphertext_blob"], "encryption_context": ec})["plaintext"])
	pairWP := tb.ok(logical.UpdateOperation, "data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
	requireFormat3(t, pairWP["private_key_ciphertext_blob"])
	tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": pairWP["private_key_ciphertext_blob"]})

	// ReEncrypt from the token to a software key and back.
	toSoft := tb.ok(logical.UpdateOperation, "re-encrypt/"+soft, map[string]any{"ciphertext_blob": enc["ciphertext_blob"], "source_encryption_context": ec})
	require.Equal(t, id, toSoft["source_key_id"])
	back := tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": toSoft["ciphertext_blob"], "destination_encryption_context": ec})
	requireFormat3(t, back["ciphertext_blob"])
	require.Equal(t, pt, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": back["ciphertext_blob"], "encryption_context": ec})["plaintext"])
	requireNoMaterial(t, tb, id)
}

func requireFormat3(t *testing.T, blob any) {
	t.Helper()
	b, err := ciphertext.Parse(unb64(t, blob))
	require.NoError(t, err)
	require.Equal(t, 3, b.Format)
}

// A scan of the whole mount's storage after keys in a store were made and
// used: every entry that is a key of a store holds no material, only
// labels. The material itself cannot be compared (the token never gives
// it out: CKA_EXTRACTABLE false, TestHSMKeyCreate), so the scan checks
// that nothing where key bytes could be stored has any.
func TestHSMKeyStorageScan(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	ids := []string{h.key(nil), h.key(map[string]any{"alias": "alias/scan", "tags": map[string]any{"t": "v"}})}
	for _, id := range ids {
		ct := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("scan")})["ciphertext_blob"]
		tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct})
		tb.ok(logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"key_spec": "AES_256"})
		tb.ok(logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})
	}
	tb.advance(2 * time.Hour)
	tb.runPeriodic()
	found := 0
	for _, k := range storageKeys(t, tb.storage, "") {
		raw, err := tb.storage.Get(context.Background(), k)
		require.NoError(t, err)
		if raw == nil || !strings.HasPrefix(k, keystore.KeyPrefix) {
			continue
		}
		var e keystore.Key
		require.NoError(t, raw.DecodeJSON(&e), k)
		if e.CustomKeyStoreID == "" {
			continue
		}
		found++
		for _, v := range e.Versions {
			require.Empty(t, v.Material, "%s version %d", k, v.Version)
			require.Equal(t, keystore.HSMObjectLabel(e.KeyID, v.Version), v.HSMLabel)
		}
	}
	require.Equal(t, len(ids), found, "the scan saw every key of the store")
}
