package kms

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// testBackend is a backend on in-memory storage with a clock tests move.
type testBackend struct {
	*backend
	t       testing.TB
	storage logical.Storage
	mu      sync.Mutex
	clock   time.Time
}

func newTestBackend(t testing.TB) *testBackend {
	t.Helper()
	conf := logical.TestBackendConfig()
	conf.StorageView = &logical.InmemStorage{}
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	tb := &testBackend{backend: raw.(*backend), t: t, storage: conf.StorageView,
		clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	// The test identity store knows every entity id, as an entity of that
	// name in no group (withIdentities adds groups).
	tb.lookupIdentity = func(id string) (*awspolicy.Caller, error) { return ident(id, id), nil }
	tb.backend.now = func() time.Time {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.clock
	}
	return tb
}

func (tb *testBackend) advance(d time.Duration) {
	tb.mu.Lock()
	tb.clock = tb.clock.Add(d)
	tb.mu.Unlock()
}

func (tb *testBackend) do(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: tb.storage}
	if op == logical.UpdateOperation || op == logical.CreateOperation || op == logical.PatchOperation {
		// Vault core runs the existence check and turns an update of a
		// missing item into a create; mirror it so tests exercise the same
		// operation Vault would send.
		if ok, exists, err := tb.HandleExistenceCheck(context.Background(), req); err == nil && ok && !exists && op == logical.UpdateOperation {
			req.Operation = logical.CreateOperation
		}
	}
	resp, err := tb.HandleRequest(context.Background(), req)
	validateResponseSchema(tb.t, tb.backend, req, resp, err)
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	return resp, err
}

// ok runs a request that must succeed and returns its data.
func (tb *testBackend) ok(op logical.Operation, path string, data map[string]any) map[string]any {
	tb.t.Helper()
	resp, err := tb.do(op, path, data)
	require.NoError(tb.t, err, "%s %s", op, path)
	if resp == nil {
		return nil
	}
	return resp.Data
}

// fails runs a request that must fail with the AWS exception exc.
func (tb *testBackend) fails(exc string, op logical.Operation, path string, data map[string]any) *kmserr.Error {
	tb.t.Helper()
	_, err := tb.do(op, path, data)
	return requireKMSError(tb.t, err, exc)
}

func requireKMSError(t testing.TB, err error, exc string) *kmserr.Error {
	t.Helper()
	require.Error(t, err)
	var ke *kmserr.Error
	require.True(t, errors.As(err, &ke), "want %s, got a non-KMS error: %v", exc, err)
	require.Equal(t, exc, ke.Type, "message: %s", ke.Msg)
	require.Equal(t, kmserr.StatusFor(exc), ke.Code())
	require.Less(t, ke.Code(), 500)
	return ke
}

func (tb *testBackend) createKey(data map[string]any) string {
	tb.t.Helper()
	return tb.ok(logical.UpdateOperation, "keys", data)["key_id"].(string)
}

func TestCreateDescribeDefaults(t *testing.T) {
	tb := newTestBackend(t)
	d := tb.ok(logical.UpdateOperation, "keys", map[string]any{"description": "orders"})
	require.Equal(t, "SYMMETRIC_DEFAULT", d["key_spec"])
	require.EqualValues(t, "ENCRYPT_DECRYPT", d["key_usage"])
	require.Equal(t, "Enabled", d["key_state"])
	require.Equal(t, true, d["enabled"])
	require.Equal(t, "AWS_KMS", d["origin"])
	require.Equal(t, []string{"SYMMETRIC_DEFAULT"}, d["encryption_algorithms"])
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, d["key_id"])
	id := d["key_id"].(string)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+id, d["arn"])

	got := tb.ok(logical.ReadOperation, "keys/"+id, nil)
	require.Equal(t, "orders", got["description"])
	got = tb.ok(logical.ReadOperation, "keys/"+d["arn"].(string), nil)
	require.Equal(t, id, got["key_id"])

	sig := tb.ok(logical.UpdateOperation, "keys", map[string]any{"key_spec": "ECC_NIST_P256"})
	require.EqualValues(t, "SIGN_VERIFY", sig["key_usage"])
	require.Equal(t, []string{"ECDSA_SHA_256"}, sig["signing_algorithms"])
	require.NotContains(t, sig, "encryption_algorithms")

	ka := tb.ok(logical.UpdateOperation, "keys", map[string]any{"key_spec": "ECC_NIST_P384", "key_usage": "KEY_AGREEMENT"})
	require.Equal(t, []string{"ECDH"}, ka["key_agreement_algorithms"])
}

func TestCreateRefusals(t *testing.T) {
	tb := newTestBackend(t)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"key_spec": "RSA_1024"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"key_spec": "HMAC_256", "key_usage": "ENCRYPT_DECRYPT"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"key_spec": "SYMMETRIC_DEFAULT", "key_usage": "SIGN_VERIFY"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"key_usage": "ENCRYPT"})
	// A key in a custom key store needs its store: a software key must
	// not pass for an HSM key (hsmkeys_test.go has the rest).
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"origin": "AWS_CLOUDHSM"})
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.UpdateOperation, "keys", map[string]any{"custom_key_store_id": "cks-1234567890abcdef0"})
	require.Empty(t, tb.liveKeys())
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"origin": "AWS_KMS_X"})
	tb.fails(kmserr.Tag, logical.UpdateOperation, "keys", map[string]any{"tags": map[string]any{"aws:owner": "x"}})
	tb.fails(kmserr.InvalidAliasName, logical.UpdateOperation, "keys", map[string]any{"alias": "alias/aws/s3"})
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/8f0b8ea1-0000-4000-8000-000000000000", nil)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/nope", nil)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/arn:aws:s3:::bucket", nil)

	tb.createKey(map[string]any{"alias": "alias/orders"})
	tb.fails(kmserr.AlreadyExists, logical.UpdateOperation, "keys", map[string]any{"alias": "alias/orders"})
	list := tb.ok(logical.ListOperation, "keys/", nil)
	require.Len(t, list["keys"], 1, "a refused create must not leave a key behind")
}

func TestLifecycleAndDeletionWindow(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/lifecycle"})
	key := "keys/" + id

	require.Equal(t, "Disabled", tb.ok(logical.UpdateOperation, key+"/disable", nil)["key_state"])
	require.Equal(t, "Disabled", tb.ok(logical.UpdateOperation, key+"/disable", nil)["key_state"], "disable is idempotent")
	require.Equal(t, "Enabled", tb.ok(logical.UpdateOperation, key+"/enable", nil)["key_state"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key+"/cancel-deletion", nil)

	for _, days := range []int{6, 31, 0, -1} {
		tb.fails(kmserr.Validation, logical.UpdateOperation, key+"/schedule-deletion", map[string]any{"pending_window_days": days})
	}
	d := tb.ok(logical.UpdateOperation, key+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	require.Equal(t, "PendingDeletion", d["key_state"])
	require.Equal(t, "2026-01-09T03:04:05Z", d["deletion_date"])
	require.Equal(t, 7, d["pending_deletion_window_in_days"])

	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key+"/enable", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key+"/disable", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key+"/schedule-deletion", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key, map[string]any{"description": "x"})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, key+"/tags", map[string]any{"tags": map[string]any{"a": "b"}})
	tb.fails(kmserr.InvalidState, logical.CreateOperation, "aliases/alias/second", map[string]any{"target_key_id": id})

	d = tb.ok(logical.UpdateOperation, key+"/cancel-deletion", nil)
	require.Equal(t, "Disabled", d["key_state"], "AWS: a cancelled key comes back Disabled")
	require.NotContains(t, d, "deletion_date")

	// Schedule again and cross the window with the injected clock.
	tb.ok(logical.UpdateOperation, key+"/schedule-deletion", nil)
	tb.advance(30*24*time.Hour - time.Second)
	require.NoError(t, tb.periodic(context.Background(), &logical.Request{Storage: tb.storage}))
	require.Equal(t, "PendingDeletion", tb.ok(logical.ReadOperation, key, nil)["key_state"])

	tb.advance(time.Second)
	tb.fails(kmserr.NotFound, logical.ReadOperation, key, nil)
	require.NoError(t, tb.periodic(context.Background(), &logical.Request{Storage: tb.storage}))
	raw, err := tb.storage.Get(context.Background(), keystore.KeyPrefix+id)
	require.NoError(t, err)
	require.Nil(t, raw, "key material must be destroyed")
	tb.fails(kmserr.NotFound, logical.ReadOperation, "aliases/alias/lifecycle", nil)
	left, err := tb.storage.List(context.Background(), keystore.DeletionPrefix)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestManagementRefusesAliases(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/mgmt"})
	for _, suffix := range []string{"/enable", "/disable", "/schedule-deletion", "/tags"} {
		tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/alias/mgmt"+suffix, map[string]any{"tags": map[string]any{"a": "b"}})
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/alias/mgmt", map[string]any{"description": "x"})
	// Describe accepts the alias and the alias ARN.
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/mgmt", nil)["key_id"])
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/arn:aws:kms:us-east-1:000000000000:alias/mgmt", nil)["key_id"])
	// Management paths take the key id only (the AWS endpoint takes the ARN).
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/arn:aws:kms:us-east-1:000000000000:key/"+id+"/disable", nil)
	require.Equal(t, "Disabled", tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)["key_state"])
}

func TestARNConfiguration(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/orders"})
	cfg := tb.ok(logical.ReadOperation, "config", nil)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/<key id>", cfg["key_arn_format"])

	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"account_id": "12345"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"region": "Mars"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"partition": "gcp"})
	tb.ok(logical.UpdateOperation, "config", map[string]any{"partition": "aws-cn", "region": "cn-north-1", "account_id": "111122223333"})

	arn := "arn:aws-cn:kms:cn-north-1:111122223333:key/" + id
	require.Equal(t, arn, tb.ok(logical.ReadOperation, "keys/"+id, nil)["arn"])
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/"+arn, nil)["key_id"])
	require.Equal(t, "arn:aws-cn:kms:cn-north-1:111122223333:alias/orders", tb.ok(logical.ReadOperation, "aliases/alias/orders", nil)["alias_arn"])
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/arn:aws-cn:kms:cn-north-1:111122223333:alias/orders", nil)["key_id"])
	// The old ARN, of another region and account, names no key here.
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/arn:aws:kms:us-east-1:000000000000:key/"+id, nil)
	info := tb.ok(logical.ListOperation, "keys/", nil)["key_info"].(map[string]any)
	require.Equal(t, arn, info[id].(map[string]any)["arn"])

	// Another node changed the configuration: ARNs follow after Invalidate.
	tb.Invalidate(context.Background(), configStorageKey)
	require.Equal(t, arn, tb.ok(logical.ReadOperation, "keys/"+id, nil)["arn"])
}

func TestUpdateDescription(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	require.Equal(t, "new", tb.ok(logical.UpdateOperation, "keys/"+id, map[string]any{"description": "new"})["description"])
	require.Equal(t, "new", tb.ok(logical.ReadOperation, "keys/"+id, nil)["description"])
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+id, map[string]any{})
	long := make([]byte, 8193)
	for i := range long {
		long[i] = 'a'
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+id, map[string]any{"description": string(long)})
}

func TestListKeysPaging(t *testing.T) {
	tb := newTestBackend(t)
	var ids []string
	for range 5 {
		ids = append(ids, tb.createKey(nil))
	}
	d := tb.ok(logical.ListOperation, "keys/", map[string]any{"limit": 2})
	first := d["keys"].([]string)
	require.Len(t, first, 2)
	require.Equal(t, true, d["truncated"])
	seen := append([]string(nil), first...)
	marker := d["next_marker"].(string)
	for marker != "" {
		d = tb.ok(logical.ListOperation, "keys/", map[string]any{"limit": 2, "after": marker})
		seen = append(seen, d["keys"].([]string)...)
		marker, _ = d["next_marker"].(string)
	}
	require.ElementsMatch(t, ids, seen)
	require.IsIncreasing(t, seen)
	info := d["key_info"].(map[string]any)
	require.Equal(t, map[string]any{"key_id": seen[4], "arn": "arn:aws:kms:us-east-1:000000000000:key/" + seen[4]}, info[seen[4]],
		"ListKeys returns the key id and ARN only, as AWS")
	tb.fails(kmserr.Validation, logical.ListOperation, "keys/", map[string]any{"limit": 1001})
	tb.fails(kmserr.Validation, logical.ListOperation, "keys/", map[string]any{"limit": 0})
}

func TestTags(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"tags": map[string]any{"env": "prod", "team": "pay"}})
	tags := "keys/" + id + "/tags"
	require.Equal(t, map[string]any{"env": "prod", "team": "pay"}, tb.ok(logical.ReadOperation, tags, nil)["tags"])
	tb.ok(logical.UpdateOperation, tags, map[string]any{"tags": map[string]any{"env": "dev", "cost": ""}})
	require.Equal(t, map[string]any{"env": "dev", "team": "pay", "cost": ""}, tb.ok(logical.ReadOperation, tags, nil)["tags"])
	tb.ok(logical.UpdateOperation, "keys/"+id+"/untag", map[string]any{"tag_keys": "team,cost,absent"})
	require.Equal(t, map[string]any{"env": "dev"}, tb.ok(logical.ReadOperation, tags, nil)["tags"])

	long := func(n int) string { return string(make([]rune, n)) }
	bad := []map[string]any{
		{"": "v"},
		{"aws:x": "v"},
		{"AWS:x": "v"},
		{string([]rune(long(129))): "v"},
		{"k": string(repeat('v', 257))},
		{"k<": "v"},
	}
	for _, tg := range bad {
		tb.fails(kmserr.Tag, logical.UpdateOperation, tags, map[string]any{"tags": tg})
	}
	// 128-character keys and 256-character values are fine.
	tb.ok(logical.UpdateOperation, tags, map[string]any{"tags": map[string]any{string(repeat('k', 128)): string(repeat('v', 256))}})

	many := map[string]any{}
	for i := range 48 {
		many[string(rune('a'+i%26))+string(rune('A'+i/26))] = "x"
	}
	tb.ok(logical.UpdateOperation, tags, map[string]any{"tags": many})                           // 2 + 48 = 50
	tb.ok(logical.UpdateOperation, tags, map[string]any{"tags": map[string]any{"env": "again"}}) // overwrite: still 50

	tb.fails(kmserr.Tag, logical.UpdateOperation, tags, map[string]any{"tags": map[string]any{"one-more": "x"}})
}

func repeat(r rune, n int) []rune {
	out := make([]rune, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func TestAliases(t *testing.T) {
	tb := newTestBackend(t)
	a := tb.createKey(nil)
	b := tb.createKey(nil)
	signer := tb.createKey(map[string]any{"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})

	d := tb.ok(logical.UpdateOperation, "aliases/alias/app/orders", map[string]any{"target_key_id": a})
	require.Equal(t, "alias/app/orders", d["alias_name"])
	require.Equal(t, a, tb.ok(logical.ReadOperation, "keys/alias/app/orders", nil)["key_id"])
	require.Equal(t, a, tb.ok(logical.ReadOperation, "aliases/alias/app/orders", nil)["target_key_id"])

	tb.fails(kmserr.AlreadyExists, logical.UpdateOperation, "aliases/alias/app/orders", map[string]any{"target_key_id": b})
	tb.fails(kmserr.InvalidAliasName, logical.UpdateOperation, "aliases/alias/aws/ebs", map[string]any{"target_key_id": a})
	tb.fails(kmserr.InvalidAliasName, logical.UpdateOperation, "aliases/alias/bad name", map[string]any{"target_key_id": a})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "aliases/alias/"+string(repeat('x', 251)), map[string]any{"target_key_id": a})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "aliases/alias/x", map[string]any{"target_key_id": "alias/app/orders"})
	tb.fails(kmserr.NotFound, logical.UpdateOperation, "aliases/alias/x", map[string]any{"target_key_id": "8f0b8ea1-0000-4000-8000-000000000000"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "aliases/alias/x", map[string]any{})

	// Retarget, keeping type and usage.
	require.Equal(t, b, tb.ok(logical.PatchOperation, "aliases/alias/app/orders", map[string]any{"target_key_id": b})["target_key_id"])
	require.Equal(t, b, tb.ok(logical.ReadOperation, "keys/alias/app/orders", nil)["key_id"])
	tb.fails(kmserr.Validation, logical.PatchOperation, "aliases/alias/app/orders", map[string]any{"target_key_id": signer})
	tb.fails(kmserr.NotFound, logical.PatchOperation, "aliases/alias/absent", map[string]any{"target_key_id": b})

	tb.ok(logical.UpdateOperation, "aliases/alias/second", map[string]any{"target_key_id": b})
	require.Equal(t, []string{"alias/app/orders", "alias/second"}, tb.ok(logical.ReadOperation, "keys/"+b, nil)["aliases"])
	all := tb.ok(logical.ListOperation, "aliases/", nil)
	require.Equal(t, []string{"alias/app/orders", "alias/second"}, all["keys"])
	require.Empty(t, tb.ok(logical.ListOperation, "aliases/", map[string]any{"key_id": a})["keys"])

	tb.ok(logical.DeleteOperation, "aliases/alias/second", nil)
	tb.fails(kmserr.NotFound, logical.DeleteOperation, "aliases/alias/second", nil)
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/second", nil)
}

// Invalidate must drop cached state so a standby sees another node's write.
func TestInvalidateDropsCaches(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/cached"})
	ctx := context.Background()

	// Another node disables the key and removes the alias behind our back.
	e, err := tb.keys.Get(ctx, tb.storage, id)
	require.NoError(t, err)
	c := e.Clone()
	c.State = keystore.StateDisabled
	entry, err := logical.StorageEntryJSON(keystore.KeyPrefix+id, c)
	require.NoError(t, err)
	require.NoError(t, tb.storage.Put(ctx, entry))
	require.NoError(t, tb.storage.Delete(ctx, keystore.AliasStorageKey("alias/cached")))

	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"], "served from cache")
	tb.Invalidate(ctx, keystore.KeyPrefix+id)
	tb.Invalidate(ctx, keystore.AliasStorageKey("alias/cached"))
	require.Equal(t, "Disabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/alias/cached", nil)
}

// Concurrent tag writes must not lose updates (per-key locks).
func TestConcurrentTagWrites(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tb.do(logical.UpdateOperation, "keys/"+id+"/tags", map[string]any{"tags": map[string]any{string(rune('a' + i)): "v"}})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Len(t, tb.ok(logical.ReadOperation, "keys/"+id+"/tags", nil)["tags"], 20)
}

// The periodic sweeps run where this node may write the mount (the
// active node, or a local mount of a performance secondary), never on a
// performance standby, and one failing does not stop the others.
func TestPeriodicWhereWritable(t *testing.T) {
	for name, tc := range map[string]struct {
		state consts.ReplicationState
		local bool
		runs  bool
	}{
		"primary":                   {0, false, true},
		"perf secondary local":      {consts.ReplicationPerformanceSecondary, true, true},
		"perf secondary replicated": {consts.ReplicationPerformanceSecondary, false, false},
		"perf standby":              {consts.ReplicationPerformanceStandby, false, false},
		"perf standby local":        {consts.ReplicationPerformanceStandby, true, false},
	} {
		tb := newTestBackend(t)
		id := tb.createKey(nil)
		tb.ok(logical.UpdateOperation, "keys/"+id+"/rotation", map[string]any{"rotation_period_days": 90})
		tb.advance(91 * 24 * time.Hour)
		conf := logical.TestBackendConfig()
		conf.System = &logical.StaticSystemView{ReplicationStateVal: tc.state, LocalMountVal: tc.local}
		require.NoError(t, tb.Setup(context.Background(), conf))
		tb.runPeriodic()
		want := uint32(1)
		if tc.runs {
			want = 2
		}
		require.Equal(t, want, tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_version"], name)
	}
}

func TestPeriodicSweepsIndependent(t *testing.T) {
	tb := newTestBackend(t)
	fs := withFaults(tb)
	doomed := tb.createKey(nil)
	rotating := tb.createKey(nil)
	tb.ok(logical.UpdateOperation, "keys/"+rotating+"/rotation", map[string]any{"rotation_period_days": 90})
	tb.ok(logical.UpdateOperation, "keys/"+doomed+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(91 * 24 * time.Hour)
	fs.prefix = keystore.KeyPrefix + doomed // the deletion sweep fails
	err := tb.periodic(context.Background(), &logical.Request{Storage: tb.storage})
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, uint32(2), tb.ok(logical.ReadOperation, "keys/"+rotating, nil)["current_key_version"])
	fs.prefix = ""
	tb.runPeriodic()
	require.Empty(t, storageKeys(t, tb.storage, keystore.DeletionPrefix))
}
