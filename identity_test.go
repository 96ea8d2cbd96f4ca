package kms

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// withTable makes the identity store hold exactly these entities (id ->
// caller); any other id is an entity that no longer exists.
func withTable(tb *testBackend, who ...*awspolicy.Caller) {
	table := map[string]*awspolicy.Caller{}
	for _, c := range who {
		table[c.EntityID] = c
	}
	tb.lookupIdentity = func(id string) (*awspolicy.Caller, error) {
		if c, ok := table[id]; ok {
			cc := *c
			return &cc, nil
		}
		return nil, access.ErrEntityGone
	}
}

func (tb *testBackend) encrypt(who, key string, ec map[string]any) error {
	return tb.asOKErr(who, logical.UpdateOperation, "encrypt/"+key, map[string]any{"plaintext": b64s("x"), "encryption_context": ec})
}

// Item 1 of issue 21: Vault's identity store keys entity and group names
// lower-cased, so a Deny on user/mallory applies to entity Mallory, and a
// grant to role/OPS to the members of group ops.
func TestNameCaseAsVaultCompares(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("m", "Mallory", "payments"), ident("o", "Oscar", "ops"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+iam+`user/mallory"},"Action":"kms:Encrypt","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+iam+`role/PAYMENTS"},"Action":"kms:DescribeKey","Resource":"*"}`)})["key_id"].(string)
	requireKMSError(t, tb.encrypt("m", id, nil), kmserr.AccessDenied)
	tb.asFails(kmserr.AccessDenied, "m", logical.ReadOperation, "keys/"+id, nil)
	require.NoError(t, tb.encrypt("o", id, nil))

	// Grants: the grantee's name in another case names the same entity.
	own := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	requireKMSError(t, tb.encrypt("o", own, nil), kmserr.AccessDenied)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+own+"/grants", map[string]any{"grantee_principal": iam + "role/OPS", "operations": "Encrypt"})
	require.NoError(t, tb.encrypt("o", own, nil))

	// aws:username and aws:PrincipalArn in conditions: the policy's
	// spelling in another case names the entity too.
	cond := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"aws:username":"mallory"}}}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:DescribeKey","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"`+iam+`user/MALLORY"}}}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"StringNotEquals":{"aws:username":"oscar"}}}`)})["key_id"].(string)
	requireKMSError(t, tb.encrypt("m", cond, nil), kmserr.AccessDenied)
	tb.asFails(kmserr.AccessDenied, "m", logical.ReadOperation, "keys/"+cond, nil)
	require.NoError(t, tb.encrypt("o", cond, nil))
	tb.asOK("o", logical.ReadOperation, "keys/"+cond, nil)
	// Deny everyone but oscar: Oscar is oscar.
	tb.asOK("o", logical.UpdateOperation, "data-key/plaintext/"+cond, map[string]any{"key_spec": "AES_256"})
	tb.asFails(kmserr.AccessDenied, "m", logical.UpdateOperation, "data-key/plaintext/"+cond, map[string]any{"key_spec": "AES_256"})
}

// Item 2 of issue 21: a token whose entity the identity store no longer
// has (merged away, deleted) is refused, never admitted as an anonymous
// entity that no Deny names.
func TestVanishedEntityRefused(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	_, err := tb.as("merged-away", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	requireKMSError(t, err, kmserr.AccessDenied)
	require.Contains(t, err.Error(), "entity no longer exists")

	// Vault's system view answers such an entity with nil.
	b := newTestBackend(t).backend
	_, err = access.FromVault(func() access.Identity { return b.System() })("merged-away")
	require.ErrorIs(t, err, access.ErrEntityGone)
}

// Item 3 of issue 21: a token without an entity could be any person, so a
// Deny naming a user, role or group applies to it (the default account
// Allow no longer lets an orphan token of a denied user through), while
// operations no such Deny covers stay open to it.
func TestEntityLessCannotShedDeny(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("m", "mallory"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+iam+`user/mallory"},"Action":["kms:Decrypt","kms:ScheduleKeyDeletion"],"Resource":"*"}`)})["key_id"].(string)
	blob := tb.asOK("", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.asFails(kmserr.AccessDenied, "", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.asFails(kmserr.AccessDenied, "m", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.asFails(kmserr.AccessDenied, "", logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.asOK("admin", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})

	// The same Deny written as a condition on aws:username.
	byName := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:username":"mallory"}}}`)})["key_id"].(string)
	blob = tb.asOK("", logical.UpdateOperation, "encrypt/"+byName, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.asFails(kmserr.AccessDenied, "", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.asFails(kmserr.AccessDenied, "m", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.asOK("admin", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
}

// Item 5 of issue 21: AWS's "deny everyone except Bob" key policy. The
// account listed in NotPrincipal exempts only the account principal
// itself, which no Vault caller is.
func TestNotPrincipalDenyEveryoneButBob(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("b", "Bob"), ident("a", "alice", "payments"), ident("c", "carol", "ops"))
	allow := `{"Effect":"Allow","Principal":{"AWS":"` + iam + `root"},"Action":"kms:*","Resource":"*"}`
	user := tb.asOK("b", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(allow,
		`{"Effect":"Deny","NotPrincipal":{"AWS":["`+iam+`user/Bob","`+iam+`root"]},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	require.NoError(t, tb.encrypt("b", user, nil))
	for _, who := range []string{"a", "c", ""} {
		requireKMSError(t, tb.encrypt(who, user, nil), kmserr.AccessDenied)
	}
	role := tb.asOK("a", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(allow,
		`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::000000000000:assumed-role/payments/s1","`+iam+`role/payments","000000000000"]},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	require.NoError(t, tb.encrypt("a", role, nil))
	for _, who := range []string{"b", "c", ""} {
		requireKMSError(t, tb.encrypt(who, role, nil), kmserr.AccessDenied)
	}
}

// Item 4 of issue 21: grant principals are stored canonical, and
// kms:GranteePrincipal is answered in every spelling, so a Deny on the
// account root or a role ARN is not sidestepped by the bare account id or
// group_id:<id>.
func TestGranteeSpellings(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("a", "alice", "payments"), ident("b", "bob"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:GranteePrincipal":["`+iam+`root","`+iam+`role/payments"]}}}`)})["key_id"].(string)
	grant := func(who, grantee string) error {
		return tb.asOKErr(who, logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": grantee, "operations": "Decrypt"})
	}
	for _, spelling := range []string{"000000000000", iam + "root", "group:payments", "group:Payments", iam + "role/Payments",
		"arn:aws:sts::000000000000:assumed-role/payments/x", "group_id:id-payments"} {
		requireKMSError(t, grant("a", spelling), kmserr.AccessDenied)
	}
	// A group id the caller cannot resolve is refused, not stored blind.
	requireKMSError(t, grant("b", "group_id:id-payments"), kmserr.Validation)
	requireKMSError(t, grant("b", "entity:no-such-entity"), kmserr.Validation)

	// Stored and listed canonical; a filter in any spelling finds it.
	require.NoError(t, grant("admin", "entity:b"))
	require.NoError(t, tb.asOKErr("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity_name:Alice", "operations": "Encrypt", "retiring_principal": "444455556666"}))
	for spelling, want := range map[string]string{"entity:b": iam + "user/bob", iam + "user/BOB": iam + "user/bob", "entity_name:alice": iam + "user/alice"} {
		list := tb.asOK("admin", logical.ListOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": spelling})
		require.Len(t, list["keys"], 1, spelling)
		info := list["key_info"].(map[string]any)[list["keys"].([]string)[0]].(map[string]any)
		require.Equal(t, want, info["grantee_principal"], spelling)
	}
	retirable := tb.asOK("admin", logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "arn:aws:iam::444455556666:root"})
	require.Len(t, retirable["keys"], 1)

	// A Deny written with a name's case or an entity id holds for a
	// grantee spelled in another case or by name.
	named := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:GranteePrincipal":["`+iam+`user/Bob","entity:a"]}}}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:RetiringPrincipal":"`+iam+`role/PAYMENTS"}}}`)})["key_id"].(string)
	for _, data := range []map[string]any{{"grantee_principal": iam + "user/bob"}, {"grantee_principal": "entity_name:BOB"},
		{"grantee_principal": iam + "user/alice"}, {"grantee_principal": "entity_name:carol", "retiring_principal": "group:payments"}} {
		data["operations"] = "Decrypt"
		tb.asFails(kmserr.AccessDenied, "a", logical.UpdateOperation, "keys/"+named+"/grants", data)
	}
	tb.asOK("a", logical.UpdateOperation, "keys/"+named+"/grants", map[string]any{"grantee_principal": "entity_name:carol", "operations": "Decrypt"})
}

// Item 12 of issue 21: a grant constraint's keys compare without case,
// its values with case.
func TestGrantConstraintKeyCase(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("b", "bob"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob",
		"operations": "Encrypt", "encryption_context_subset": map[string]any{"dept": "it"}})
	require.NoError(t, tb.encrypt("b", id, map[string]any{"Dept": "it"}))
	require.NoError(t, tb.encrypt("b", id, map[string]any{"DEPT": "it", "x": "y"}))
	requireKMSError(t, tb.encrypt("b", id, map[string]any{"dept": "IT"}), kmserr.AccessDenied)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob",
		"operations": "GenerateDataKey", "encryption_context_equals": map[string]any{"App": "a"}})
	require.NoError(t, tb.asOKErr("b", logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"encryption_context": map[string]any{"app": "a"}, "key_spec": "AES_256"}))
}

// Item 13 of issue 21: a grantee holding CreateGrant through a constrained
// grant may create child grants at least as strict (more pairs; Subset
// made Equals), never looser.
func TestStricterChildGrants(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("b", "bob"), ident("c", "carol"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	parent := func(kind string, pairs map[string]any) {
		tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob",
			"operations": "Encrypt,CreateGrant", kind: pairs, "name": kind})
	}
	child := func(kind string, pairs map[string]any) error {
		data := map[string]any{"grantee_principal": iam + "user/carol", "operations": "Encrypt"}
		if kind != "" {
			data[kind] = pairs
		}
		return tb.asOKErr("b", logical.UpdateOperation, "keys/"+id+"/grants", data)
	}
	const sub, eq = "encryption_context_subset", "encryption_context_equals"
	parent(sub, map[string]any{"dept": "it"})
	require.NoError(t, child(sub, map[string]any{"dept": "it"}))
	require.NoError(t, child(sub, map[string]any{"Dept": "it", "app": "x"}))
	require.NoError(t, child(eq, map[string]any{"dept": "it"}))
	require.NoError(t, child(eq, map[string]any{"dept": "it", "app": "x"}))
	for _, loose := range []struct {
		kind  string
		pairs map[string]any
	}{{"", nil}, {sub, map[string]any{"app": "x"}}, {sub, map[string]any{"dept": "IT"}}, {eq, map[string]any{"app": "x"}}} {
		requireKMSError(t, child(loose.kind, loose.pairs), kmserr.AccessDenied)
	}

	id2 := id
	id = tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	require.NotEqual(t, id, id2)
	parent(eq, map[string]any{"dept": "it"})
	require.NoError(t, child(eq, map[string]any{"DEPT": "it"}))
	requireKMSError(t, child(eq, map[string]any{"dept": "it", "app": "x"}), kmserr.AccessDenied)
	requireKMSError(t, child(sub, map[string]any{"dept": "it"}), kmserr.AccessDenied)
}

// A grant stored before grants were canonical (its principals as written)
// is still listed when filtered by that spelling, and still matches.
func TestPreCanonicalGrantStillFound(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("b", "bob"))
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`)})["key_id"].(string)
	old := &grantEntry{GrantID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", KeyID: id,
		GranteePrincipal: "entity:b", RetiringPrincipal: "entity:b", Operations: []string{keyspec.OpEncrypt}}
	// As stored then: the entry and its retiring index entry, as written.
	require.NoError(t, access.PutGrant(context.Background(), tb.storage, old))
	list := tb.asOK("admin", logical.ListOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:b"})
	require.Equal(t, []string{old.GrantID}, list["keys"])
	retirable := tb.asOK("admin", logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "entity:b"})
	require.Equal(t, []string{old.GrantID}, retirable["keys"])
	require.NoError(t, tb.encrypt("b", id, nil))
}
