package kms

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/internal/tokenkeys"
)

// snapshot is every storage entry, to check a refused request wrote
// nothing.
func snapshot(t *testing.T, s logical.Storage) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range storageKeys(t, s, "") {
		e, err := s.Get(context.Background(), k)
		require.NoError(t, err)
		if e != nil {
			out[k] = string(e.Value)
		}
	}
	return out
}

// While the store is disconnected its keys are Unavailable: DescribeKey
// says so (unless pending deletion), cryptographic requests get
// KMSInvalidStateException and change nothing; after reconnecting they
// work again. A token that lost the key object answers the same, never a
// 500.
func TestHSMKeyUnavailable(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	doomed := h.key(nil)
	tb.ok(logical.UpdateOperation, "keys/"+doomed+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	pt := base64.StdEncoding.EncodeToString([]byte("hello"))
	ec := map[string]any{"k": "v"}
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": ec})["ciphertext_blob"]
	soft := tb.createKey(nil)
	softBlob := tb.ok(logical.UpdateOperation, "encrypt/"+soft, map[string]any{"plaintext": pt})["ciphertext_blob"]

	h.disconnect()
	described := tb.ok(logical.ReadOperation, "keys/"+id, nil)
	require.Equal(t, "Unavailable", described["key_state"])
	require.Equal(t, false, described["enabled"], "AWS: Enabled is true only in the Enabled state")
	require.Equal(t, "PendingDeletion", tb.ok(logical.ReadOperation, "keys/"+doomed, nil)["key_state"])
	md := tb.aws("", "DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)
	require.Equal(t, "Unavailable", md["KeyState"])
	before := snapshot(t, tb.storage)
	refused := []struct {
		path string
		data map[string]any
	}{
		{"encrypt/" + id, map[string]any{"plaintext": pt}},
		{"decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": ec}},
		{"decrypt/" + id, map[string]any{"ciphertext_blob": blob, "encryption_context": ec}},
		{"data-key/plaintext/" + id, map[string]any{"key_spec": "AES_256"}},
		{"data-key/wrapped/" + id, map[string]any{"key_spec": "AES_256"}},
		{"data-key-pair/plaintext/" + id, map[string]any{"key_pair_spec": "ECC_NIST_P256"}},
		{"data-key-pair/wrapped/" + id, map[string]any{"key_pair_spec": "ECC_NIST_P256"}},
		{"re-encrypt/" + id, map[string]any{"ciphertext_blob": softBlob}},
		{"re-encrypt/" + soft, map[string]any{"ciphertext_blob": blob, "source_encryption_context": ec}},
	}
	for _, r := range refused {
		ke := tb.fails(kmserr.InvalidState, logical.UpdateOperation, r.path, r.data)
		require.Contains(t, ke.Msg, "Unavailable", r.path)
	}
	tb.awsFails(kmserr.InvalidState, "", "Encrypt", map[string]any{"KeyId": id, "Plaintext": pt})
	require.Equal(t, before, snapshot(t, tb.storage), "a refused request changed storage")

	// Management operations still work.
	tb.aws("", "UpdateKeyDescription", map[string]any{"KeyId": id, "Description": "while away"})
	tb.aws("", "TagResource", map[string]any{"KeyId": id, "Tags": []any{map[string]any{"TagKey": "k", "TagValue": "v"}}})

	h.connect()
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	require.Equal(t, pt, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": ec})["plaintext"])

	// The object gone from under the plugin: an error per request, no 500,
	// nothing written.
	require.NoError(t, h.token().Destroy(context.Background(), h.label(id)))
	before = snapshot(t, tb.storage)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": ec})
	require.Equal(t, before, snapshot(t, tb.storage))
	require.Equal(t, "CONNECTED", tb.ok(logical.ReadOperation, "custom-key-stores/"+h.store, nil)["connection_state"], "one token error does not disconnect the store")
}

// Rotation and import are refused for keys in a custom key store, as AWS.
func TestHSMKeyNoRotationOrImport(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 90})
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+id+"/import-parameters", map[string]any{"wrapping_algorithm": "RSAES_OAEP_SHA_256", "wrapping_key_spec": "RSA_2048"})
	tb.awsFails(kmserr.UnsupportedOperation, "", "EnableKeyRotation", map[string]any{"KeyId": id})
	tb.awsFails(kmserr.UnsupportedOperation, "", "RotateKeyOnDemand", map[string]any{"KeyId": id})
	require.Len(t, tb.mustKey(id).Versions, 1)
	tb.fails(kmserr.UnsupportedOperation, logical.ReadOperation, "keys/"+id+"/rotation", nil)
	tb.fails(kmserr.UnsupportedOperation, logical.ListOperation, "keys/"+id+"/rotations", nil)
	tb.awsFails(kmserr.UnsupportedOperation, "", "ListKeyRotations", map[string]any{"KeyId": id})
	tb.advance(400 * 24 * time.Hour)
	tb.runPeriodic()
	require.Len(t, tb.mustKey(id).Versions, 1, "no automatic rotation")
}

// At the end of the deletion window the object is destroyed in the token;
// while the store is disconnected the key waits, and the sweep retries.
func TestHSMKeyDeletion(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(map[string]any{"alias": "alias/gone"})
	label := h.label(id)
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	h.disconnect()
	tb.advance(8 * 24 * time.Hour)
	err := tb.periodic(context.Background(), &logical.Request{Storage: tb.storage})
	require.ErrorIs(t, err, tokenkeys.ErrStoreDown, "the sweep reports the key it could not delete")
	e, err := tb.keys.Load(context.Background(), tb.storage, id)
	require.NoError(t, err)
	require.NotNil(t, e, "the key stays while its store is disconnected")
	require.Equal(t, "PendingDeletion", e.State)
	require.Contains(t, h.objects(), label)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/"+id, nil)

	h.connect()
	tb.runPeriodic()
	require.Empty(t, h.objects(), "the object went with the key")
	_, err = tb.keys.Load(context.Background(), tb.storage, id)
	require.NoError(t, err)
	require.Empty(t, storageKeys(t, tb.storage, keystore.KeyPrefix))
	keys, err := tb.cks.Keys(context.Background(), tb.storage, h.store)
	require.NoError(t, err)
	require.Empty(t, keys)
	h.disconnect()
	tb.ok(logical.DeleteOperation, "custom-key-stores/"+h.store, nil)
}

// The AWS protocol: CreateKey with CustomKeyStoreId, DescribeKey's
// CustomKeyStoreId and CloudHsmClusterId, Encrypt and Decrypt.
func TestAWSHSMKeys(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	md := tb.aws("", "CreateKey", map[string]any{"CustomKeyStoreId": h.store, "Origin": "AWS_CLOUDHSM"})["KeyMetadata"].(map[string]any)
	id := md["KeyId"].(string)
	conn := tb.ok(logical.ReadOperation, "custom-key-stores/"+h.store, nil)["cloud_hsm_cluster_id"]
	require.Equal(t, h.store, md["CustomKeyStoreId"])
	require.Equal(t, conn, md["CloudHsmClusterId"])
	require.Equal(t, "AWS_CLOUDHSM", md["Origin"])
	md = tb.aws("", "DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)
	require.Equal(t, h.store, md["CustomKeyStoreId"])
	require.Equal(t, conn, md["CloudHsmClusterId"])
	require.Equal(t, "Enabled", md["KeyState"])
	pt := base64.StdEncoding.EncodeToString([]byte("aws"))
	ct := tb.aws("", "Encrypt", map[string]any{"KeyId": id, "Plaintext": pt, "EncryptionContext": map[string]any{"a": "b"}})["CiphertextBlob"]
	out := tb.aws("", "Decrypt", map[string]any{"CiphertextBlob": ct, "EncryptionContext": map[string]any{"a": "b"}})
	require.Equal(t, pt, out["Plaintext"])
	require.Equal(t, md["Arn"], out["KeyId"])
	tb.awsFails(kmserr.UnsupportedOperation, "", "CreateKey", map[string]any{"CustomKeyStoreId": h.store, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
	// A software key has neither member.
	soft := tb.aws("", "CreateKey", map[string]any{})["KeyMetadata"].(map[string]any)
	require.NotContains(t, soft, "CustomKeyStoreId")
	require.NotContains(t, soft, "CloudHsmClusterId")
}

// The key policy decides first: a caller it denies is refused with
// AccessDeniedException before the store is asked, connected or not, and
// a caller it allows uses the key in the token.
func TestHSMKeyAuthorizedFirst(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	withIdentities(tb)
	doc := policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")},
		map[string]any{"Sid": "alice", "Effect": "Allow", "Principal": principals("entity:alice"), "Action": actions("Encrypt", "Decrypt")})
	id := h.key(map[string]any{"policy": doc, "bypass_policy_lockout_safety_check": true})
	pt := base64.StdEncoding.EncodeToString([]byte("p"))
	blob := tb.asOK("alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})["ciphertext_blob"]
	requireFormat3(t, blob)
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	h.disconnect()
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.asFails(kmserr.InvalidState, "alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
}

// A token that goes away: requests fail one by one (never a 500), and the
// periodic health check marks the store FAILED with its error code, so
// its keys show Unavailable.
func TestHSMKeyTokenGone(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	pt := base64.StdEncoding.EncodeToString([]byte("p"))
	tb.runPeriodic()
	require.Equal(t, "CONNECTED", tb.ok(logical.ReadOperation, "custom-key-stores/"+h.store, nil)["connection_state"], "a healthy token stays connected")
	h.soft.DeleteToken(t, h.tok.Label)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	tb.runPeriodic()
	st := tb.ok(logical.ReadOperation, "custom-key-stores/"+h.store, nil)
	require.Equal(t, "FAILED", st["connection_state"])
	require.Contains(t, []any{"NETWORK_ERRORS", "INSUFFICIENT_CLOUDHSM_HSMS"}, st["connection_error_code"])
	require.Equal(t, "Unavailable", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	ke := tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	require.Contains(t, ke.Msg, "Unavailable")
}

// On a performance standby, which holds no token connections, CreateKey
// in a store, cryptography with its keys and DescribeKey answer
// ErrReadOnly, so Vault forwards them to the active node, rather than
// calling the key Unavailable or showing the stored state.
func TestHSMKeyStandbyForwards(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	conf := logical.TestBackendConfig()
	conf.System = &logical.StaticSystemView{ReplicationStateVal: consts.ReplicationPerformanceStandby}
	require.NoError(t, tb.Setup(context.Background(), conf))
	_, err := tb.do(logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": h.store})
	require.ErrorIs(t, err, logical.ErrReadOnly)
	_, err = tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("p")})
	require.ErrorIs(t, err, logical.ErrReadOnly)
	// DescribeKey too: only the active node knows whether the key is
	// Unavailable (TestHSMKeyDescribeOnStandbyForwards).
	_, err = tb.do(logical.ReadOperation, "keys/"+id, nil)
	require.ErrorIs(t, err, logical.ErrReadOnly)
}

// On a performance standby, which holds no token connections, DescribeKey
// of a key in a store answers ErrReadOnly, so Vault forwards it to the
// active node, which knows whether the key is Unavailable; a key pending
// deletion (its state does not depend on the store) and a software key
// are described locally.
func TestHSMKeyDescribeOnStandbyForwards(t *testing.T) {
	h := newHSMKeyEnv(t, 1)
	tb := h.tb
	id := h.key(nil)
	doomed := h.key(nil)
	tb.ok(logical.UpdateOperation, "keys/"+doomed+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	soft := tb.createKey(nil)
	h.disconnect()
	require.Equal(t, "Unavailable", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"], "the active node knows")
	h.connect()

	standby(tb)
	_, err := tb.do(logical.ReadOperation, "keys/"+id, nil)
	require.ErrorIs(t, err, logical.ErrReadOnly)
	req := &logical.Request{Operation: logical.UpdateOperation, Path: "aws", Storage: tb.storage,
		Headers: map[string][]string{"X-Amz-Target": {"TrentService.DescribeKey"}}, Data: map[string]any{"KeyId": id}}
	_, err = tb.HandleRequest(context.Background(), req)
	require.ErrorIs(t, err, logical.ErrReadOnly, "the AWS endpoint forwards too")
	require.Equal(t, "PendingDeletion", tb.ok(logical.ReadOperation, "keys/"+doomed, nil)["key_state"])
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+soft, nil)["key_state"])
}
