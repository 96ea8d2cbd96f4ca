package kms

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// Every way a policy document enters the plugin (CreateKey, PutKeyPolicy,
// the sudo recovery path, and both of them on the AWS endpoint) refuses a
// duplicate member and a bare operator on a multivalued key, with MalformedPolicyDocumentException naming the fault.
func TestPolicyEntryPointsRefuseAmbiguousDocuments(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	admin := `{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`
	bad := map[string]string{
		// Shown as a Deny, enforced (by encoding/json) as an Allow.
		awsDoc(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Effect":"Allow"}`):                                                                           "Statement[1].Effect",
		awsDoc(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:a":"x","kms:EncryptionContext:a":"y"}}}`): "kms:EncryptionContext:a",
		`{"Version":"2012-10-17","Statement":[` + admin + `],"Statement":[]}`:                                                                                                               "Statement",
		awsDoc(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContextKeys":"secret"}}}`):                        "ForAnyValue:StringEquals",
	}
	for doc, want := range bad {
		for _, call := range []struct{ path, op string }{{"keys", "CreateKey"}, {"keys/" + id + "/policy", "PutKeyPolicy"}, {"policy-recovery/" + id, ""}} {
			_, err := tb.as("admin", logical.UpdateOperation, call.path, map[string]any{"policy": doc})
			require.Contains(t, requireKMSError(t, err, kmserr.MalformedPolicy).Error(), want, call.path)
			if call.op == "" {
				continue
			}
			body := map[string]any{"Policy": doc}
			if call.op == "PutKeyPolicy" {
				body["KeyId"], body["PolicyName"] = id, "default"
			}
			require.Contains(t, tb.awsFails(kmserr.MalformedPolicy, "admin", call.op, body), want, call.op)
		}
	}
}

// A policy may name any action AWS KMS defines, implemented here or not;
// an undefined one is still refused.
func TestPolicyAcceptsEveryAWSAction(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"use","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":["kms:Encrypt","kms:ReplicateKey","kms:CreateCustomKeyStore","kms:SynchronizeMultiRegionKey","kms:UpdatePrimaryRegion"],"Resource":"*"}`)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	tb.asOK("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.asFails(kmserr.AccessDenied, "bob", logical.ReadOperation, "keys/"+id, nil)
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys/"+id+"/policy",
		map[string]any{"policy": awsDoc(`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":["kms:*","kms:ReEncrypt"],"Resource":"*"}`)})
}

// A Deny whose Resource holds a policy variable applies to the key the
// variable names (here the caller's aws:PrincipalTag/blocked).
func TestPolicyResourceVariableDeny(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	withMetadata(tb, map[string]map[string]string{"alice": {"blocked": id}, "bob": {"blocked": "other"}})
	doc := awsDoc(
		`{"Sid":"all","Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"blocked","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:000000000000:key/${aws:PrincipalTag/blocked}"}`)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
	enc := func(who string) error {
		_, err := tb.as(who, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
		return err
	}
	requireKMSError(t, enc("alice"), kmserr.AccessDenied)
	require.NoError(t, enc("bob"))
}

// A policy stored before the parser came to refuse it (here a bare
// operator on a multivalued key) is enforced as "deny everything", never
// guessed at; the key still loads, and the sudo recovery path replaces it.
func TestStoredPolicyNoLongerValidFailsClosed(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	ctx := context.Background()
	raw, err := tb.storage.Get(ctx, keystore.KeyPrefix+id)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(raw.Value, &stored))
	stored["policy"] = awsDoc(`{"Effect":"Allow","Principal":{"AWS":"`+iam+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContextKeys":"secret"}}}`)
	raw.Value, err = json.Marshal(stored)
	require.NoError(t, err)
	require.NoError(t, tb.storage.Put(ctx, raw))
	tb.invalidate(ctx, keystore.KeyPrefix+id)

	tb.asFails(kmserr.AccessDenied, "admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.asFails(kmserr.AccessDenied, "admin", logical.ReadOperation, "keys/"+id, nil)
	def := awsDoc(`{"Effect":"Allow","Principal":{"AWS":"` + iam + `root"},"Action":"kms:*","Resource":"*"}`)
	tb.asOK("admin", logical.UpdateOperation, "policy-recovery/"+id, map[string]any{"policy": def})
	tb.asOK("admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
}

// The plugin's first policy format let Go's JSON decoder match member
// names without case, so {"effect":"Deny",...,"Effect":"Allow"} showed a
// Deny and enforced an Allow. The format is gone (one policy language,
// issue 23): every such document, ambiguous or not, is refused.
func TestLegacyPolicyRefusesMembersThatDifferOnlyInCase(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	admin := `{"effect":"Allow","principals":["entity_name:admin"],"operations":["*"]}`
	for _, doc := range []string{
		`{"statements":[` + admin + `,{"effect":"Deny","principals":["*"],"operations":["Decrypt"],"Effect":"Allow"}]}`,
		`{"statements":[` + admin + `,{"effect":"Deny","principals":["*"],"operations":["Decrypt"]}],"Statements":[` + admin + `]}`,
		`{"statements":[` + admin + `,{"effect":"Deny","principals":["entity_name:bob"],"PRINCIPALS":["entity_name:nobody"],"operations":["Decrypt"]}]}`,
		`{"statements":[{"Effect":"Allow","principals":["entity_name:admin"],"operations":["*"]}]}`,
	} {
		_, err := tb.as("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
		requireKMSError(t, err, "MalformedPolicyDocumentException")
	}
}
