package kms

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Found by the attacker's review of the package split: CreateGrant
// resolved an entity-id grantee or retiring principal through the
// identity store before it authorized the caller, so a caller the key
// refuses learned from "names an entity id that does not exist" versus
// AccessDenied whether an entity id exists. A principal that does not
// resolve is now an error only a caller allowed CreateGrant sees.
func TestCreateGrantUnresolvedPrincipalAfterAuthorization(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("alice", "alice"), ident("bob", "bob"), ident("mallory", "mallory"))
	key := ownedKey(t, tb, "alice")
	path := "keys/" + key + "/grants"
	for _, field := range []string{"grantee_principal", "retiring_principal"} {
		for _, who := range []string{"entity:bob", "entity:ghost"} {
			data := map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt", field: who}
			tb.asFails(kmserr.AccessDenied, "mallory", logical.UpdateOperation, path, data)
		}
		// The key's owner still learns what is wrong.
		data := map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt", field: "entity:ghost"}
		tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, path, data)
	}
}

// Found by the attacker's review: a grant's constraint compares keys
// without case, and either spelling of a key spelled twice answered it, so
// a grant for dept=hr admitted {"dept":"finance","Dept":"hr"}: its grantee
// made ciphertext labelled dept=finance. Both spellings must now hold the
// value, and a constraint with such keys is refused.
func TestGrantConstraintKeySpelledTwice(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("alice", "alice"), ident("bob", "bob"))
	key := ownedKey(t, tb, "alice")
	path := "keys/" + key + "/grants"
	tb.asOK("alice", logical.UpdateOperation, path, map[string]any{"grantee_principal": "entity:bob",
		"operations": "Encrypt", "encryption_context_subset": map[string]any{"dept": "hr"}})
	require.NoError(t, tb.encrypt("bob", key, map[string]any{"dept": "hr"}))
	require.NoError(t, tb.encrypt("bob", key, map[string]any{"DEPT": "hr", "app": "x"}))
	requireKMSError(t, tb.encrypt("bob", key, map[string]any{"dept": "finance", "Dept": "hr"}), kmserr.AccessDenied)
	requireKMSError(t, tb.encrypt("bob", key, map[string]any{"Dept": "hr", "dept": "finance"}), kmserr.AccessDenied)
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, path, map[string]any{"grantee_principal": "entity:bob",
		"operations": "Encrypt", "encryption_context_equals": map[string]any{"dept": "hr", "Dept": "finance"}})
}

// Found by the attacker's review: an encryption context with keys that
// differ only in case is refused when the key policy tests that key, and
// the refusal said so, to any caller: one the key refuses anyway learned,
// key name by key name, which kms:EncryptionContext keys the policy tests
// (the key policy is GetKeyPolicy's to show). The refusal is now a denial
// like any other, to every caller; the log says why.
func TestContextCaseRefusalRevealsNothing(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("alice", "alice"), ident("mallory", "mallory"))
	key := tb.asOK("alice", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Sid":"owner","Effect":"Allow","Principal":{"AWS":"`+iam+`user/alice"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"hr","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",`+
			`"Condition":{"StringNotEquals":{"kms:EncryptionContext:dept":"hr"}}}`)})["key_id"].(string)
	refusal := func(who string, ec map[string]any) string {
		return requireKMSError(t, tb.encrypt(who, key, ec), kmserr.AccessDenied).Msg
	}
	tested := refusal("mallory", map[string]any{"dept": "a", "Dept": "b"})
	untested := refusal("mallory", map[string]any{"team": "a", "Team": "b"})
	require.Equal(t, untested, tested, "the refusal tells a key the policy tests from one it does not")
	// The key's owner is refused such a context too, and allowed the rest.
	refusal("alice", map[string]any{"dept": "a", "Dept": "b"})
	require.NoError(t, tb.encrypt("alice", key, map[string]any{"team": "a", "Team": "b"}))
}

// Found by the attacker's review: the caller's account came from the
// loaded configuration, or the default account when none was loaded, as
// after another node changed the configuration (Invalidate drops it).
// Decrypt without a key id loads none before it resolves the caller, so
// the first such request after a change ran as a caller of account
// 000000000000 and escaped a Deny on the configured account's user.
func TestCallerAccountAfterConfigInvalidated(t *testing.T) {
	tb := newTestBackend(t)
	withTable(tb, ident("admin", "admin"), ident("mallory", "mallory"))
	tb.asOK("", logical.UpdateOperation, "config", map[string]any{"account_id": "111122223333"})
	const acct = "arn:aws:iam::111122223333:"
	key := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": awsDoc(
		`{"Effect":"Allow","Principal":{"AWS":"`+acct+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+acct+`user/mallory"},"Action":"kms:Decrypt","Resource":"*"}`)})["key_id"].(string)
	ct := tb.asOK("admin", logical.UpdateOperation, "encrypt/"+key, map[string]any{"plaintext": b64s("secret")})["ciphertext_blob"]
	tb.asFails(kmserr.AccessDenied, "mallory", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct})
	tb.backend.invalidate(context.Background(), configStorageKey)
	tb.asFails(kmserr.AccessDenied, "mallory", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct})
}
