package kms

import (
	"context"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// ownedKey creates a key whose policy allows everything to owner only.
func ownedKey(t *testing.T, tb *testBackend, owner string) string {
	t.Helper()
	doc := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("entity:" + owner), "Action": actions("*")})
	return tb.asOK(owner, logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
}

// Alias changes need the operation on every key they touch: a caller the
// key policy denies cannot create, repoint or delete the key's aliases.
func TestAliasOperationsAreAuthorized(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	victim := ownedKey(t, tb, "admin")
	own := ownedKey(t, tb, "mallory")
	target := func() string {
		return tb.asOK("admin", logical.ReadOperation, "aliases/alias/orders", nil)["target_key_id"].(string)
	}

	tb.asFails(kmserr.AccessDenied, "mallory", logical.UpdateOperation, "aliases/alias/mine", map[string]any{"target_key_id": victim})
	tb.asFails(kmserr.NotFound, "admin", logical.ReadOperation, "aliases/alias/mine", nil)
	tb.asOK("admin", logical.UpdateOperation, "aliases/alias/orders", map[string]any{"target_key_id": victim})

	// Repointing needs UpdateAlias on the current target and the new one.
	tb.asFails(kmserr.AccessDenied, "mallory", logical.PatchOperation, "aliases/alias/orders", map[string]any{"target_key_id": own})
	require.Equal(t, victim, target())
	tb.asFails(kmserr.AccessDenied, "admin", logical.PatchOperation, "aliases/alias/orders", map[string]any{"target_key_id": own})
	require.Equal(t, victim, target())
	tb.asFails(kmserr.AccessDenied, "mallory", logical.DeleteOperation, "aliases/alias/orders", nil)
	require.Equal(t, victim, target())

	// A policy may name the alias operations; granted on both keys, the
	// update goes through.
	both := policyDoc(t,
		map[string]any{"Effect": "Allow", "Principal": principals("entity:mallory"), "Action": actions("*")},
		map[string]any{"Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("UpdateAlias")})
	tb.asOK("mallory", logical.UpdateOperation, "keys/"+own+"/policy", map[string]any{"policy": both})
	tb.asOK("admin", logical.PatchOperation, "aliases/alias/orders", map[string]any{"target_key_id": own})
	require.Equal(t, own, target())
	tb.asFails(kmserr.AccessDenied, "admin", logical.DeleteOperation, "aliases/alias/orders", nil)
	tb.asOK("mallory", logical.DeleteOperation, "aliases/alias/orders", nil)

	// Alias operations are policy vocabulary, not grantable.
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+victim+"/grants",
		map[string]any{"grantee_principal": "entity:bob", "operations": "CreateAlias"})
}

// A grant that includes RetireGrant lets its grantee retire that grant,
// not every grant on the key.
func TestRetireGrantOnlyTheGrantItself(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := ownedKey(t, tb, "admin")
	grant := func(grantee, ops string) string {
		return tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants",
			map[string]any{"grantee_principal": "entity:" + grantee, "operations": ops})["grant_id"].(string)
	}
	gina := grant("gina", "Encrypt,RetireGrant")
	bob := grant("bob", "Encrypt")
	retire := func(who, gid string) error {
		_, err := tb.as(who, logical.UpdateOperation, "grants/retire", map[string]any{"key_id": id, "grant_id": gid})
		return err
	}
	requireKMSError(t, retire("gina", bob), kmserr.AccessDenied)
	require.NoError(t, tb.asOKErr("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")}))
	requireKMSError(t, retire("bob", bob), kmserr.AccessDenied) // bob's grant lacks RetireGrant
	require.NoError(t, retire("gina", gina))
	require.NoError(t, retire("admin", bob)) // the key policy
}

func (tb *testBackend) asOKErr(entity string, op logical.Operation, path string, data map[string]any) error {
	_, err := tb.as(entity, op, path, data)
	return err
}

// noRandom fails the test when anything draws entropy.
type noRandom struct{ t *testing.T }

func (r noRandom) Read([]byte) (int, error) {
	r.t.Error("entropy was drawn before the caller was authorized")
	return 0, io.ErrUnexpectedEOF
}

// GetParametersForImport generates its RSA wrapping key only after the
// key is resolved, the caller authorized and the key's state checked.
func TestImportParametersAuthorizeBeforeWork(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")})
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc, "origin": "EXTERNAL"})["key_id"].(string)
	native := ownedKey(t, tb, "admin")
	real := tb.random
	tb.random = noRandom{t}
	params := map[string]any{"wrapping_key_spec": "RSA_4096"}
	tb.asFails(kmserr.AccessDenied, "mallory", logical.UpdateOperation, "keys/"+id+"/import-parameters", params)
	tb.asFails(kmserr.NotFound, "admin", logical.UpdateOperation, "keys/0b9e2d5c-0000-4000-8000-000000000000/import-parameters", params)
	tb.asFails(kmserr.UnsupportedOperation, "admin", logical.UpdateOperation, "keys/"+native+"/import-parameters", params)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.asFails(kmserr.InvalidState, "admin", logical.UpdateOperation, "keys/"+id+"/import-parameters", params)
	tb.random = real
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/cancel-deletion", nil)
	got := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/import-parameters", nil)
	require.NotEmpty(t, got["public_key"])
}

// Management paths take the key id only, so a Vault ACL rule such as
// kms/keys/+/policy covers every way to reach them; the AWS endpoint keeps
// taking the key ARN.
func TestManagementPathsRefuseKeyARN(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"alias": "alias/mgmt"})
	arn := tb.ok(logical.ReadOperation, "keys/"+id, nil)["arn"].(string)
	policy := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("*"), "Action": actions("Encrypt")})
	for _, c := range []struct {
		op   logical.Operation
		path string
	}{
		{logical.ReadOperation, "/policy"}, {logical.UpdateOperation, "/policy"}, {logical.ListOperation, "/policies"},
		{logical.UpdateOperation, "/enable"}, {logical.UpdateOperation, "/disable"}, {logical.UpdateOperation, "/schedule-deletion"},
		{logical.UpdateOperation, "/cancel-deletion"}, {logical.ReadOperation, "/tags"}, {logical.UpdateOperation, "/tags"},
		{logical.UpdateOperation, "/untag"}, {logical.UpdateOperation, "/grants"}, {logical.ListOperation, "/grants"},
		{logical.DeleteOperation, "/grants/abc"}, {logical.ReadOperation, "/rotation"}, {logical.UpdateOperation, "/rotation"},
		{logical.UpdateOperation, "/rotate"}, {logical.ListOperation, "/rotations"}, {logical.UpdateOperation, "/import-parameters"},
		{logical.UpdateOperation, "/import"}, {logical.ReadOperation, "/last-usage"}, {logical.UpdateOperation, ""},
	} {
		data := map[string]any{"policy": policy, "bypass_policy_lockout_safety_check": true, "tags": map[string]any{"a": "b"},
			"tag_keys": "a", "description": "x", "grantee_principal": "entity:bob", "operations": "Encrypt"}
		resp, err := tb.do(c.op, "keys/"+arn+c.path, data)
		require.Error(t, err, "%s keys/<arn>%s must be refused", c.op, c.path)
		if err == logical.ErrUnsupportedOperation || err == logical.ErrUnsupportedPath {
			continue
		}
		var ke *kmserr.Error
		require.ErrorAs(t, err, &ke, "%s %s: %v %v", c.op, c.path, err, resp)
		require.Equal(t, kmserr.Validation, ke.Type, "%s %s: %v", c.op, c.path, err)
	}
	require.Equal(t, access.DefaultPolicyText((&configEntry{}).account()), tb.ok(logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"])
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	// Describe keeps the key ARN, the alias and the alias ARN; crypto paths too.
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/"+arn, nil)["key_id"])
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/alias/mgmt", nil)["key_id"])
	tb.ok(logical.UpdateOperation, "encrypt/"+arn, map[string]any{"plaintext": b64s("x")})
	// The AWS endpoint takes the key ARN for management operations.
	tb.aws("", "PutKeyPolicy", map[string]any{"KeyId": arn, "PolicyName": "default", "Policy": openPolicyDoc})
	tb.aws("", "DisableKey", map[string]any{"KeyId": arn})
	tb.aws("", "UpdateKeyDescription", map[string]any{"KeyId": arn, "Description": "via AWS"})
	require.Equal(t, "via AWS", tb.ok(logical.ReadOperation, "keys/"+id, nil)["description"])
}

// A token without an entity is no_entity: an Allow statement's * does not
// admit it, a Deny statement's * refuses it, and a statement naming
// no_entity admits it. The default policy names it.
func TestEntitylessCallers(t *testing.T) {
	star, _ := awspolicy.ParseVaultPrincipal("*")
	e1, none := ident("e1", "e1"), &awspolicy.Caller{EntityLess: true}
	require.True(t, star.Names(e1, awspolicy.UseAllow))
	require.True(t, star.Names(e1, awspolicy.UseDeny))
	require.False(t, star.Names(none, awspolicy.UseAllow))
	require.True(t, star.Names(none, awspolicy.UseDeny))

	tb := newTestBackend(t)
	withIdentities(tb)
	enc := func(who, id string) error {
		return tb.asOKErr(who, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	}
	open := tb.asOK("alice", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	require.NoError(t, enc("", open), "the default policy delegates to Vault's ACL, entity or not")

	allowAll := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("*"), "Action": actions("*")})
	id := tb.asOK("alice", logical.UpdateOperation, "keys", map[string]any{"policy": allowAll})["key_id"].(string)
	require.NoError(t, enc("bob", id))
	requireKMSError(t, enc("", id), kmserr.AccessDenied)

	named := policyDoc(t,
		map[string]any{"Effect": "Allow", "Principal": principals("*"), "Action": actions("*")},
		map[string]any{"Effect": "Allow", "Principal": principals("no_entity"), "Action": actions("Encrypt")})
	tb.asOK("alice", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": named})
	require.NoError(t, enc("", id))

	denyAll := policyDoc(t,
		map[string]any{"Effect": "Allow", "Principal": principals("entity:alice"), "Action": actions("*")},
		map[string]any{"Effect": "Allow", "Principal": principals("no_entity"), "Action": actions("Encrypt")},
		map[string]any{"Effect": "Deny", "Principal": principals("*"), "Action": actions("Encrypt")})
	tb.asOK("alice", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": denyAll})
	requireKMSError(t, enc("", id), kmserr.AccessDenied)
	requireKMSError(t, enc("alice", id), kmserr.AccessDenied)

	// no_entity names a class of callers: no grant may be made to it.
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, "keys/"+open+"/grants",
		map[string]any{"grantee_principal": "no_entity", "operations": "Encrypt"})
}

// ListKeys returns the id and ARN of each key, nothing more, and leaves out
// keys whose deletion window has ended.
func TestListKeysDisclosesOnlyIDAndARN(t *testing.T) {
	tb := newTestBackend(t)
	live := tb.createKey(map[string]any{"description": "secret plans", "tags": map[string]any{"a": "b"}})
	pending := tb.createKey(nil)
	gone := tb.createKey(nil)
	tb.ok(logical.UpdateOperation, "keys/"+pending+"/schedule-deletion", map[string]any{"pending_window_days": 30})
	tb.ok(logical.UpdateOperation, "keys/"+gone+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(8 * 24 * time.Hour)
	d := tb.ok(logical.ListOperation, "keys/", nil)
	require.ElementsMatch(t, []string{live, pending}, d["keys"])
	for _, id := range []string{live, pending} {
		require.Equal(t, map[string]any{"key_id": id, "arn": "arn:aws:kms:us-east-1:000000000000:key/" + id}, d["key_info"].(map[string]any)[id])
	}
	out := tb.aws("", "ListKeys", map[string]any{})
	for _, k := range out["Keys"].([]any) {
		require.Len(t, k, 2, "KeyId and KeyArn only")
	}
}

// ListRetirableGrants reads the retiring principal's grants from an index,
// not every key's grants; the index follows creates, retires and key
// deletion, and grants made before it existed are indexed once.
func TestRetirableGrantsIndex(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	k1, k2 := tb.createKey(nil), tb.createKey(nil)
	grant := func(key, retiring string) string {
		return tb.ok(logical.UpdateOperation, "keys/"+key+"/grants", map[string]any{"grantee_principal": "entity:bob",
			"operations": "Encrypt", "retiring_principal": retiring, "encryption_context_subset": map[string]any{"k": "v"}})["grant_id"].(string)
	}
	g1, g2 := grant(k1, "entity:carol"), grant(k2, "entity:carol")
	grant(k1, "entity:dave")
	tb.ok(logical.UpdateOperation, "keys/"+k1+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})
	list := func(p string) []string {
		d := tb.ok(logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": p})
		keys, _ := d["keys"].([]string)
		return keys
	}
	require.ElementsMatch(t, []string{g1, g2}, list("entity:carol"))

	// The listing reads no other key's grants: drop every grant index and
	// count the grant entries read.
	tb.cache.grants.Reset()
	counting := &countingStorage{Storage: tb.storage}
	req := &logical.Request{Operation: logical.ListOperation, Path: "grants/retirable", Storage: counting,
		Data: map[string]any{"retiring_principal": "entity:carol"}}
	resp, err := tb.HandleRequest(ctx, req)
	require.NoError(t, err)
	require.Len(t, resp.Data["keys"], 2)
	require.Equal(t, 2, counting.grantReads, "only carol's two grants are read")

	tb.ok(logical.UpdateOperation, "grants/retire", map[string]any{"key_id": k1, "grant_id": g1})
	require.Equal(t, []string{g2}, list("entity:carol"))
	tb.ok(logical.UpdateOperation, "keys/"+k2+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(8 * 24 * time.Hour)
	require.NoError(t, tb.periodic(ctx, &logical.Request{Storage: tb.storage}))
	require.Empty(t, list("entity:carol"))
	left, err := tb.storage.List(ctx, retiringStoragePrefix+url.PathEscape("entity:carol")+"/")
	require.NoError(t, err)
	require.Empty(t, left)
}

type countingStorage struct {
	logical.Storage
	grantReads int
}

func (c *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if strings.HasPrefix(key, grantStoragePrefix) {
		c.grantReads++
	}
	return c.Storage.Get(ctx, key)
}

// A grant's operations, constraints and a key's grant count are bounded.
func TestGrantBounds(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	create := func(data map[string]any) error {
		data["grantee_principal"] = "entity:bob"
		if _, ok := data["operations"]; !ok {
			data["operations"] = "Encrypt"
		}
		_, err := tb.do(logical.UpdateOperation, "keys/"+id+"/grants", data)
		return err
	}
	requireKMSError(t, create(map[string]any{"operations": "Encrypt,Decrypt,Encrypt"}), kmserr.Validation)
	var all []string
	k := tb.mustKey(id)
	for op, o := range access.Operations {
		if o.Grantable && o.FitsKey(k.KeyUsage, k.Spec()) {
			all = append(all, op)
		}
	}
	require.NoError(t, create(map[string]any{"operations": strings.Join(all, ",")}))
	requireKMSError(t, create(map[string]any{"operations": strings.Join(append(all, all...), ",")}), kmserr.Validation)

	pairs := func(n, size int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[strings.Repeat("k", size-1)+string(rune('a'+i))] = strings.Repeat("v", size)
		}
		return m
	}
	require.NoError(t, create(map[string]any{"encryption_context_subset": pairs(8, 384)}))
	requireKMSError(t, create(map[string]any{"encryption_context_subset": pairs(9, 10)}), kmserr.Validation)
	requireKMSError(t, create(map[string]any{"encryption_context_equals": pairs(1, 385)}), kmserr.Validation)
	requireKMSError(t, create(map[string]any{"encryption_context_equals": map[string]any{"k": strings.Repeat("v", 385)}}), kmserr.Validation)

	old := access.MaxGrantsPerKey
	access.MaxGrantsPerKey = 3
	t.Cleanup(func() { access.MaxGrantsPerKey = old })
	require.NoError(t, create(map[string]any{"operations": "Decrypt"}))
	requireKMSError(t, create(map[string]any{"operations": "GenerateDataKey"}), kmserr.LimitExceeded)
}

func (tb *testBackend) mustKey(id string) *keystore.Key {
	e, err := tb.keys.Get(context.Background(), tb.storage, id)
	require.NoError(tb.t, err)
	return e
}

// Grant tokens and import tokens are MACed under keys of their own
// purpose: neither passes as the other, even re-labelled.
func TestTokenPurposesAreSeparate(t *testing.T) {
	require.NotEqual(t, tokenMAC([]byte("k"), purposeGrantToken, "a", "b"), tokenMAC([]byte("k"), purposeImportToken, "a", "b"))
	require.NotEqual(t, tokenMAC([]byte("k"), purposeGrantToken, "a.b", "c"), tokenMAC([]byte("k"), purposeGrantToken, "a", "b.c"))

	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"origin": "EXTERNAL"})
	importToken := tb.ok(logical.UpdateOperation, "keys/"+id+"/import-parameters", nil)["import_token"].(string)
	g := tb.ok(logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})
	grantToken, grantID := g["grant_token"].(string), g["grant_id"].(string)
	relabel := func(token, prefix string) string {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		_, rest, _ := strings.Cut(string(raw), ".")
		return base64.RawURLEncoding.EncodeToString([]byte(prefix + "." + rest))
	}
	asImport := func(token string) {
		tb.fails(kmserr.InvalidImportToken, logical.UpdateOperation, "keys/"+id+"/import",
			map[string]any{"encrypted_key_material": b64s("x"), "import_token": token})
	}
	asImport(grantToken)
	asImport(relabel(grantToken, "i1"))
	asGrant := func(token string) {
		tb.fails(kmserr.InvalidGrantToken, logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": token})
	}
	asGrant(importToken)
	asGrant(relabel(importToken, "v1"))
	// Both still work for their own purpose.
	tb.ok(logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grantToken})
	tb.fails(kmserr.NotFound, logical.UpdateOperation, "grants/retire", map[string]any{"key_id": id, "grant_id": grantID})
	_, err := tb.do(logical.UpdateOperation, "keys/"+id+"/import", map[string]any{"encrypted_key_material": b64s("x"), "import_token": importToken})
	requireKMSError(t, err, kmserr.InvalidCiphertext) // the token passed; the material is not wrapped
}
