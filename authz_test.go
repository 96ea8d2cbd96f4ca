package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// ident is an entity-bearing caller of the test account.
func ident(id, name string, groups ...string) *awspolicy.Caller {
	c := &awspolicy.Caller{EntityID: id, EntityName: name, Account: (&configEntry{}).account()}
	for _, g := range groups {
		c.GroupNames = append(c.GroupNames, g)
		c.GroupIDs = append(c.GroupIDs, "id-"+g)
	}
	return c
}

// as runs a request as an entity with the given principal names.
func (tb *testBackend) as(entity string, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: tb.storage, EntityID: entity}
	resp, err := tb.HandleRequest(context.Background(), req)
	validateResponseSchema(tb.t, tb.backend, req, resp, err)
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	return resp, err
}

func (tb *testBackend) asOK(entity string, op logical.Operation, path string, data map[string]any) map[string]any {
	tb.t.Helper()
	resp, err := tb.as(entity, op, path, data)
	require.NoError(tb.t, err, "%s: %s %s", entity, op, path)
	if resp == nil {
		return nil
	}
	return resp.Data
}

func (tb *testBackend) asFails(exc, entity string, op logical.Operation, path string, data map[string]any) {
	tb.t.Helper()
	_, err := tb.as(entity, op, path, data)
	requireKMSError(tb.t, err, exc)
}

// withIdentities makes the test backend's identity lookup answer from a
// table, as Vault's identity store would.
func withIdentities(tb *testBackend) {
	groups := map[string][]string{"alice": {"payments"}, "mallory": {"payments"}}
	tb.lookupIdentity = func(id string) (*awspolicy.Caller, error) {
		return ident(id, id, groups[id]...), nil
	}
}

// openPolicyDoc lets every caller Vault's ACL admits use the key: AWS's
// default policy, its account principal standing for them all.
var openPolicyDoc = access.DefaultPolicyText((&configEntry{}).account())

// policyDoc is an AWS key policy of the given statements, each on every
// resource unless it says otherwise.
func policyDoc(t *testing.T, statements ...map[string]any) string {
	for _, s := range statements {
		if _, ok := s["Resource"]; !ok {
			s["Resource"] = "*"
		}
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	require.NoError(t, err)
	return string(b)
}

// principals is a statement's Principal naming Vault identities
// (entity:<id>, group:<name>, no_entity, ...) and "*" for every caller.
func principals(names ...string) map[string][]string {
	p := map[string][]string{}
	for _, n := range names {
		if n == "*" {
			p["AWS"] = append(p["AWS"], n)
		} else {
			p["Vault"] = append(p["Vault"], n)
		}
	}
	return p
}

// actions is a statement's Action: kms:<operation> for each, kms:* for *.
func actions(ops ...string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = "kms:" + op
	}
	return out
}

func TestPoliciesAndGrants(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")},
		map[string]any{"Sid": "payments", "Effect": "Allow", "Principal": principals("group:payments"), "Action": actions("Encrypt", "Decrypt")},
		map[string]any{"Sid": "no-mallory", "Effect": "Deny", "Principal": principals("entity:mallory"), "Action": actions("*")},
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	enc := func(who string, ec map[string]any) error {
		_, err := tb.as(who, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "encryption_context": ec})
		return err
	}
	require.NoError(t, enc("alice", nil))
	requireKMSError(t, enc("bob", nil), kmserr.AccessDenied)
	requireKMSError(t, enc("mallory", nil), kmserr.AccessDenied) // in payments, but denied
	requireKMSError(t, enc("", nil), kmserr.AccessDenied)        // a token without an entity is only no_entity
	tb.asFails(kmserr.AccessDenied, "bob", logical.ReadOperation, "keys/"+id, nil)

	// A grant gives bob Encrypt under a context constraint.
	grant := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:bob", "operations": "Encrypt", "retiring_principal": "entity:carol",
		"encryption_context_subset": map[string]any{"dept": "x"}, "name": "bob-encrypt",
	})
	require.NoError(t, enc("bob", map[string]any{"dept": "x", "extra": "1"}))
	requireKMSError(t, enc("bob", map[string]any{"dept": "y"}), kmserr.AccessDenied)
	requireKMSError(t, enc("bob", nil), kmserr.AccessDenied)
	blob := tb.asOK("alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})

	// Name idempotency: same name and parameters, same grant.
	again := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:bob", "operations": "Encrypt", "retiring_principal": "entity:carol",
		"encryption_context_subset": map[string]any{"dept": "x"}, "name": "bob-encrypt",
	})
	require.Equal(t, grant["grant_id"], again["grant_id"])
	require.Equal(t, grant["grant_token"], again["grant_token"])
	other := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:bob", "operations": "Encrypt", "name": "bob-encrypt",
	})
	require.NotEqual(t, grant["grant_id"], other["grant_id"], "different parameters make a new grant")
	tb.asOK("admin", logical.DeleteOperation, "keys/"+id+"/grants/"+other["grant_id"].(string), nil)

	// Grant tokens: valid ones pass, forged ones are refused.
	_, err := tb.as("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"),
		"encryption_context": map[string]any{"dept": "x"}, "grant_tokens": []string{grant["grant_token"].(string)}})
	require.NoError(t, err)
	forged := base64.RawURLEncoding.EncodeToString([]byte("v1." + id + "." + grant["grant_id"].(string) + ".00"))
	_, err = tb.as("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"),
		"encryption_context": map[string]any{"dept": "x"}, "grant_tokens": []string{forged}})
	requireKMSError(t, err, kmserr.InvalidGrantToken)
	_, err = tb.as("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"),
		"encryption_context": map[string]any{"dept": "x"}, "grant_tokens": []string{"garbage"}})
	requireKMSError(t, err, kmserr.InvalidGrantToken)
	// Without the context bob's grant does not admit him: the token is
	// not looked at, the answer is the refusal.
	_, err = tb.as("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "grant_tokens": []string{"garbage"}})
	requireKMSError(t, err, kmserr.AccessDenied)

	// Lists.
	list := tb.asOK("admin", logical.ListOperation, "keys/"+id+"/grants", nil)
	require.Equal(t, []string{grant["grant_id"].(string)}, list["keys"])
	tb.asFails(kmserr.AccessDenied, "bob", logical.ListOperation, "keys/"+id+"/grants", nil)
	require.Len(t, tb.asOK("", logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "entity:carol"})["keys"], 1)

	// Only the retiring principal (or the policy) retires; effect is immediate.
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	tb.asOK("carol", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	requireKMSError(t, enc("bob", map[string]any{"dept": "x"}), kmserr.AccessDenied)
	// A grant that is gone names no retiring principal: only a caller the
	// key policy allows RetireGrant learns that it does not exist.
	tb.asFails(kmserr.AccessDenied, "carol", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	tb.asFails(kmserr.NotFound, "admin", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})

	// A grant cannot outlive a Deny statement.
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:mallory", "operations": "Encrypt"})
	requireKMSError(t, enc("mallory", nil), kmserr.AccessDenied)
}

func TestGrantDelegationAndFit(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")})
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)

	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Sign"})
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "GetPublicKey"})
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "PutKeyPolicy"})
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "*", "operations": "Encrypt"})
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob"})
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt",
		"encryption_context_equals": map[string]any{"a": "1"}, "encryption_context_subset": map[string]any{"a": "1"}})

	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt,CreateGrant"})
	tb.asFails(kmserr.AccessDenied, "carol", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:dave", "operations": "Encrypt"})
	tb.asOK("bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:dave", "operations": "Encrypt"})
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:dave", "operations": "Encrypt,Decrypt"})
	tb.asOK("dave", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})

	// Constrained parents delegate only equally constrained grants.
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:erin", "operations": "Decrypt,CreateGrant",
		"encryption_context_equals": map[string]any{"t": "1"}})
	tb.asFails(kmserr.AccessDenied, "erin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:frank", "operations": "Decrypt"})
	tb.asOK("erin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:frank", "operations": "Decrypt",
		"encryption_context_equals": map[string]any{"t": "1"}})

	// A grantee with RetireGrant in its grant may retire it.
	g := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:gina", "operations": "Encrypt,RetireGrant"})
	tb.asOK("gina", logical.UpdateOperation, "grants/retire", map[string]any{"key_id": id, "grant_id": g["grant_id"]})

	// Deleting the key deletes its grants.
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.advance(8 * 24 * time.Hour)
	require.NoError(t, tb.periodic(context.Background(), &logical.Request{Storage: tb.storage}))
	left, err := tb.storage.List(context.Background(), grantStoragePrefix+id+"/")
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestLockoutAndRecovery(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	lockout := policyDoc(t, map[string]any{"Effect": "Allow", "Principal": principals("entity:alice"), "Action": actions("Encrypt")})
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": lockout})
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys", map[string]any{"policy": lockout})
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": `{"statements":`})
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": lockout, "bypass_policy_lockout_safety_check": true})
	tb.asFails(kmserr.AccessDenied, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": openPolicyDoc})
	tb.asFails(kmserr.AccessDenied, "admin", logical.ReadOperation, "keys/"+id+"/policy", nil)

	// The sudo recovery path (Vault enforces sudo; the plugin skips the policy).
	tb.asOK("admin", logical.UpdateOperation, "policy-recovery/"+id, map[string]any{"policy": openPolicyDoc})
	require.JSONEq(t, openPolicyDoc, tb.asOK("admin", logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"].(string))
	require.Equal(t, []string{"default"}, tb.asOK("admin", logical.ListOperation, "keys/"+id+"/policies", nil)["keys"])
	require.Contains(t, tb.SpecialPaths().Root, "policy-recovery/*")
}
