package kms

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

const iam = "arn:aws:iam::000000000000:"

// awsDoc is an AWS key policy with the given statements.
func awsDoc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// withMetadata adds entity metadata (aws:PrincipalTag/<k>) to the table
// identities of withIdentities.
func withMetadata(tb *testBackend, meta map[string]map[string]string) {
	lookup := tb.lookupIdentity
	tb.lookupIdentity = func(id string) (*awspolicy.Caller, error) {
		c, err := lookup(id)
		if err == nil {
			c.Metadata = meta[id]
		}
		return c, err
	}
}

// The twin of TestPoliciesAndGrants in the AWS language, with IAM ARNs:
// user/<name> is the entity named <name>, role/<name> the group.
func TestAWSPoliciesAndGrants(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"payments","Effect":"Allow","Principal":{"AWS":"`+iam+`role/payments"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`,
		`{"Sid":"no-mallory","Effect":"Deny","Principal":{"AWS":"`+iam+`user/mallory"},"Action":"kms:*","Resource":"*"}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	require.Equal(t, doc, tb.asOK("admin", logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"], "the document comes back as given")
	enc := func(who string, ec map[string]any) error {
		_, err := tb.as(who, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "encryption_context": ec})
		return err
	}
	require.NoError(t, enc("alice", nil))
	requireKMSError(t, enc("bob", nil), kmserr.AccessDenied)
	requireKMSError(t, enc("mallory", nil), kmserr.AccessDenied) // in payments, but denied
	tb.asFails(kmserr.AccessDenied, "bob", logical.ReadOperation, "keys/"+id, nil)

	// A grant to an IAM user ARN gives bob Encrypt under a constraint; its
	// retiring principal is a role ARN.
	grant := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": iam + "user/bob", "operations": "Encrypt", "retiring_principal": iam + "role/payments",
		"encryption_context_subset": map[string]any{"dept": "x"},
	})
	require.NoError(t, enc("bob", map[string]any{"dept": "x"}))
	requireKMSError(t, enc("bob", map[string]any{"dept": "y"}), kmserr.AccessDenied)
	requireKMSError(t, enc("carol", map[string]any{"dept": "x"}), kmserr.AccessDenied)
	list := tb.asOK("admin", logical.ListOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob"})
	require.Equal(t, []string{grant["grant_id"].(string)}, list["keys"])
	retirable := tb.asOK("admin", logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": iam + "role/payments"})
	require.Len(t, retirable["keys"], 1)
	// bob is not the retiring principal; alice is in payments.
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	tb.asOK("alice", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	requireKMSError(t, enc("bob", map[string]any{"dept": "x"}), kmserr.AccessDenied)

	// A grant to another account's user, or to an assumed-role ARN.
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "arn:aws:iam::111122223333:user/bob", "operations": "Encrypt"})
	requireKMSError(t, enc("bob", nil), kmserr.AccessDenied)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "arn:aws:sts::000000000000:assumed-role/auditors/s1", "operations": "Encrypt"})
	requireKMSError(t, enc("bob", nil), kmserr.AccessDenied)
	for _, bad := range []string{"arn:aws:iam::000000000000:group/x", "user:bob", "*", "arn:aws:iam::000000000000:user/*"} {
		tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": bad, "operations": "Encrypt"})
	}
	tb.asFails(kmserr.Validation, "admin", logical.ListOperation, "grants/retirable", map[string]any{"retiring_principal": "bob"})
}

// The twin of TestLockoutAndRecovery: the lockout check, the default
// policy text and the sudo recovery path with AWS documents.
func TestAWSLockoutAndRecovery(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	def := tb.asOK("admin", logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"].(string)
	require.JSONEq(t, `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}`, def)

	lockout := awsDoc(`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/alice"},"Action":"kms:Encrypt","Resource":"*"}`)
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": lockout})
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys", map[string]any{"policy": lockout})
	// A condition on the bypass flag is evaluated with the request's value.
	onlyWithBypass := awsDoc(`{"Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}}`)
	tb.asFails(kmserr.MalformedPolicy, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": onlyWithBypass})
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": lockout, "bypass_policy_lockout_safety_check": true})
	tb.asFails(kmserr.AccessDenied, "admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": def})
	tb.asFails(kmserr.AccessDenied, "admin", logical.ReadOperation, "keys/"+id+"/policy", nil)

	tb.asOK("admin", logical.UpdateOperation, "policy-recovery/"+id, map[string]any{"policy": def})
	require.Equal(t, def, tb.asOK("admin", logical.ReadOperation, "keys/"+id+"/policy", nil)["policy"])

	// The account of the default policy is the mount's.
	tb.asOK("", logical.UpdateOperation, "config", map[string]any{"account_id": "111122223333", "partition": "aws-cn"})
	id2 := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	require.Contains(t, tb.asOK("admin", logical.ReadOperation, "keys/"+id2+"/policy", nil)["policy"], `"arn:aws-cn:iam::111122223333:root"`)
	tb.asOK("bob", logical.ReadOperation, "keys/"+id2, nil)
}

func TestAWSPolicyMalformed(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	for doc, element := range map[string]string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Foo":1}]}`:                                   "Statement[0].Foo",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Frobnicate","Resource":"*"}]}`:                                  "Statement[0].Action",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"kms:*","Resource":"*"}]}`:                               "Statement[0].Principal",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":"x"}]}`:                           "Statement[0].Condition",
		`{"Version":"1999-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`:                                           "Version",
		`{"version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`:                                           "version",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}],"Id":"` + strings.Repeat("x", 33000) + `"}`: "larger than",
	} {
		_, err := tb.as("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
		e := requireKMSError(t, err, kmserr.MalformedPolicy)
		require.Contains(t, e.Error(), element)
	}
}

// Conditions on the encryption context, the algorithm, the caller and
// the key are answered from the request.
func TestAWSPolicyConditions(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	withMetadata(tb, map[string]map[string]string{"alice": {"team": "blue"}, "bob": {"team": "red"}})
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"payments-context","Effect":"Allow","Principal":{"AWS":"`+iam+`role/payments"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:app":"payments"}}}`,
		`{"Sid":"own-context","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}","aws:PrincipalTag/team":"red","kms:KeySpec":"SYMMETRIC_DEFAULT","kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}`,
		`{"Sid":"no-secret","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
		  "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"secret"}}}`,
		`{"Sid":"describe-own-account","Effect":"Allow","Principal":"*","Action":"kms:DescribeKey","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"000000000000","aws:PrincipalArn":"`+iam+`user/carol"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	enc := func(who string, ec map[string]any) (any, error) {
		resp, err := tb.as(who, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "encryption_context": ec})
		if err != nil {
			return nil, err
		}
		return resp.Data["ciphertext_blob"], nil
	}
	blob, err := enc("alice", map[string]any{"app": "payments"})
	require.NoError(t, err)
	_, err = enc("alice", map[string]any{"app": "billing"})
	requireKMSError(t, err, kmserr.AccessDenied)
	_, err = enc("alice", nil)
	requireKMSError(t, err, kmserr.AccessDenied)
	tb.asOK("alice", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"app": "payments"}})

	// bob: only under his own name, as a red team member.
	_, err = enc("bob", map[string]any{"owner": "bob"})
	require.NoError(t, err)
	_, err = enc("bob", map[string]any{"owner": "alice"})
	requireKMSError(t, err, kmserr.AccessDenied)
	_, err = enc("alice", map[string]any{"owner": "alice"}) // team blue
	requireKMSError(t, err, kmserr.AccessDenied)
	_, err = tb.as("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "encryption_context": map[string]any{"owner": "bob"},
		"encryption_algorithm": "RSAES_OAEP_SHA_256"})
	requireKMSError(t, err, kmserr.AccessDenied) // the condition sees the requested algorithm

	// Deny on a context key, whatever the Allow.
	secret, err := enc("admin", map[string]any{"secret": "1", "app": "payments"})
	require.NoError(t, err)
	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": secret, "encryption_context": map[string]any{"secret": "1", "app": "payments"}})
	tb.asFails(kmserr.AccessDenied, "admin", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": secret, "encryption_context": map[string]any{"secret": "1", "app": "payments"}})

	tb.asOK("carol", logical.ReadOperation, "keys/"+id, nil)
	tb.asFails(kmserr.AccessDenied, "bob", logical.ReadOperation, "keys/"+id, nil)
}

// Request attributes reach the condition keys: the alias a request names
// the key by, the deletion window, and a grant's parameters.
func TestAWSPolicyRequestKeys(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"by-alias","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:RequestAlias":"alias/app"}}}`,
		`{"Sid":"aliased","Effect":"Allow","Principal":{"AWS":"`+iam+`user/carol"},"Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/ap*"}}}`,
		`{"Sid":"long-window","Effect":"Allow","Principal":{"AWS":"`+iam+`user/alice"},"Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":20}}}`,
		`{"Sid":"small-grants","Effect":"Allow","Principal":{"AWS":"`+iam+`user/alice"},"Action":"kms:CreateGrant","Resource":"*",
		  "Condition":{"ForAllValues:StringEquals":{"kms:GrantOperations":["Encrypt","Decrypt"]},"Bool":{"kms:GrantIsForAWSResource":"false"},"StringLike":{"kms:GranteePrincipal":"`+iam+`user/*"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	enc := func(who, ref string) error {
		_, err := tb.as(who, logical.UpdateOperation, "encrypt/"+ref, map[string]any{"plaintext": b64s("x")})
		return err
	}
	requireKMSError(t, enc("carol", id), kmserr.AccessDenied)
	tb.asOK("admin", logical.UpdateOperation, "aliases/alias/app", map[string]any{"target_key_id": id})
	require.NoError(t, enc("bob", "alias/app"))
	requireKMSError(t, enc("bob", id), kmserr.AccessDenied)
	require.NoError(t, enc("carol", id))

	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob", "operations": "Encrypt,GenerateDataKey"})
	// A role (group) is not a user/* ARN, however it is spelled.
	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "group:payments", "operations": "Encrypt"})
	tb.asOK("alice", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity_name:bob", "operations": "Encrypt"})
	tb.asOK("alice", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/bob", "operations": "Encrypt,Decrypt"})

	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.asOK("alice", logical.UpdateOperation, "keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 20})
}

// The plugin's pre-release policy format is gone: putting a document of
// it is a MalformedPolicyDocumentException that says so, and a key stored
// with one denies everything, with an error pointing at the sudo recovery
// path, until an operator replaces its policy there.
func TestPreReleasePolicyFormatRefused(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	legacy := `{"statements":[{"effect":"Allow","principals":["entity:admin"],"operations":["*"]}]}`
	for _, path := range []string{"keys", "keys/" + tb.createKey(nil) + "/policy"} {
		_, err := tb.as("admin", logical.UpdateOperation, path, map[string]any{"policy": legacy})
		require.Contains(t, requireKMSError(t, err, kmserr.MalformedPolicy).Error(), "pre-release policy format", path)
	}

	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	ctx := context.Background()
	raw, err := tb.storage.Get(ctx, keystore.KeyPrefix+id)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(raw.Value, &stored))
	stored["policy"] = legacy
	raw.Value, err = json.Marshal(stored)
	require.NoError(t, err)
	require.NoError(t, tb.storage.Put(ctx, raw))
	tb.invalidate(ctx, keystore.KeyPrefix+id)

	_, err = tb.as("admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	require.Contains(t, requireKMSError(t, err, kmserr.AccessDenied).Error(), "kms/policy-recovery/"+id)
	tb.asFails(kmserr.AccessDenied, "admin", logical.ReadOperation, "keys/"+id+"/policy", nil)
	open := awsDoc(`{"Effect":"Allow","Principal":{"AWS":"` + iam + `root"},"Action":"kms:*","Resource":"*"}`)
	tb.asOK("admin", logical.UpdateOperation, "policy-recovery/"+id, map[string]any{"policy": open})
	tb.asOK("admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.asOK("bob", logical.ReadOperation, "keys/"+id, nil)
}

// Each batch item is authorized with its own parameters as condition keys
// (they were absent, so a Deny on kms:MessageType let a one-item batch
// sign a DIGEST that a single Sign was refused).
func TestAWSPolicyBatchItemsCarryTheirAttributes(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"alg","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":["kms:Encrypt","kms:Sign"],"Resource":"*","Condition":{"StringEqualsIfExists":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}`,
		`{"Sid":"no-digest","Effect":"Deny","Principal":"*","Action":"kms:Sign","Resource":"*","Condition":{"StringEquals":{"kms:MessageType":"DIGEST"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	batch := map[string]any{"batch_input": []any{map[string]any{"plaintext": b64s("x")}}}
	res := tb.asOK("bob", logical.UpdateOperation, "encrypt/"+id, batch)["batch_results"].([]map[string]any)
	require.Len(t, res, 1)
	require.NotEmpty(t, res[0]["ciphertext_blob"], res[0])

	ecc := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc, "key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})["key_id"].(string)
	sum := sha256.Sum256([]byte("attacker-chosen"))
	item := map[string]any{"message": base64.StdEncoding.EncodeToString(sum[:]), "message_type": "DIGEST", "signing_algorithm": "ECDSA_SHA_256"}
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "sign/"+ecc, item)
	for _, in := range []map[string]any{
		{"batch_input": []any{item}},
		// A top-level default is the item's parameter too.
		{"message_type": "DIGEST", "signing_algorithm": "ECDSA_SHA_256", "batch_input": []any{map[string]any{"message": item["message"]}}},
	} {
		res = tb.asOK("bob", logical.UpdateOperation, "sign/"+ecc, in)["batch_results"].([]map[string]any)
		require.Len(t, res, 1)
		require.Equal(t, kmserr.AccessDenied, res[0]["error_type"], res[0])
	}
	raw := map[string]any{"message": b64s("fine"), "signing_algorithm": "ECDSA_SHA_256"}
	res = tb.asOK("bob", logical.UpdateOperation, "sign/"+ecc, map[string]any{"batch_input": []any{raw}})["batch_results"].([]map[string]any)
	require.NotEmpty(t, res[0]["signature"], res[0])
}

// kms:EncryptionAlgorithm on ReEncrypt is the source algorithm for
// ReEncryptFrom and the destination one for ReEncryptTo; on data keys it
// is SYMMETRIC_DEFAULT.
func TestAWSPolicyReEncryptAndDataKeyAlgorithms(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"bob","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":["kms:ReEncrypt*","kms:GenerateDataKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	rsa := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc, "key_spec": "RSA_2048", "key_usage": "ENCRYPT_DECRYPT"})["key_id"].(string)
	blob := tb.asOK("admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	tb.asOK("bob", logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": blob})
	tb.asOK("admin", logical.UpdateOperation, "re-encrypt/"+rsa, map[string]any{"ciphertext_blob": blob, "destination_encryption_algorithm": "RSAES_OAEP_SHA_256"})
	_, err := tb.as("bob", logical.UpdateOperation, "re-encrypt/"+rsa, map[string]any{"ciphertext_blob": blob, "destination_encryption_algorithm": "RSAES_OAEP_SHA_256"})
	requireKMSError(t, err, kmserr.AccessDenied)
	tb.asOK("bob", logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
}

// Tokens without an entity (no_entity: orphan and root tokens) in AWS
// documents: "*" in an Allow does not admit them, the account and
// {"Vault": "no_entity"} do, a Deny "*" refuses them.
func TestAWSPolicyEntityLessCaller(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	admin := `{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"` + iam + `user/admin"},"Action":"kms:*","Resource":"*"}`
	id := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	tb.asOK("", logical.ReadOperation, "keys/"+id, nil) // the default policy names the account
	for principal, allowed := range map[string]bool{`"*"`: false, `{"AWS":"*"}`: false, `{"AWS":"000000000000"}`: true,
		`{"AWS":"arn:aws:iam::000000000000:root"}`: true, `{"Vault":"no_entity"}`: true, `{"AWS":"arn:aws:iam::111122223333:root"}`: false} {
		doc := awsDoc(admin, `{"Effect":"Allow","Principal":`+principal+`,"Action":"kms:DescribeKey","Resource":"*"}`)
		tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
		if _, err := tb.as("", logical.ReadOperation, "keys/"+id, nil); allowed {
			require.NoError(t, err, principal)
		} else {
			requireKMSError(t, err, kmserr.AccessDenied)
		}
	}
	deny := awsDoc(admin, `{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:DescribeKey","Resource":"*"}`)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": deny, "bypass_policy_lockout_safety_check": true})
	_, err := tb.as("", logical.ReadOperation, "keys/"+id, nil)
	requireKMSError(t, err, kmserr.AccessDenied)
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "no_entity", "operations": "Encrypt"})
}

// kms:ReEncryptOnSameKey is answered on both of ReEncrypt's authorizations
// (the source key comes from the blob's header or source_key_id), and
// kms:RequestAlias names, for each, the alias of its own key.
func TestAWSPolicyReEncryptSameKeyAndAliases(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"same-only","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":"kms:ReEncrypt*","Resource":"*","Condition":{"Bool":{"kms:ReEncryptOnSameKey":"true"}}}`,
		`{"Sid":"to-by-alias","Effect":"Allow","Principal":{"AWS":"`+iam+`user/carol"},"Action":"kms:ReEncryptTo","Resource":"*","Condition":{"StringEquals":{"kms:RequestAlias":"alias/dst"}}}`,
		`{"Sid":"from-by-alias","Effect":"Allow","Principal":{"AWS":"`+iam+`user/carol"},"Action":"kms:ReEncryptFrom","Resource":"*","Condition":{"StringEquals":{"kms:RequestAlias":"alias/src"}}}`,
	)
	a := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc, "alias": "alias/src"})["key_id"].(string)
	b := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc, "alias": "alias/dst"})["key_id"].(string)
	blob := tb.asOK("admin", logical.UpdateOperation, "encrypt/"+a, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	// Same key: by the blob's header, and by source_key_id.
	tb.asOK("bob", logical.UpdateOperation, "re-encrypt/"+a, map[string]any{"ciphertext_blob": blob})
	tb.asOK("bob", logical.UpdateOperation, "re-encrypt/"+a, map[string]any{"ciphertext_blob": blob, "source_key_id": a})
	// Another key: refused.
	_, err := tb.as("bob", logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob})
	requireKMSError(t, err, kmserr.AccessDenied)
	// Each authorization sees its own key's alias.
	tb.asOK("carol", logical.UpdateOperation, "re-encrypt/alias/dst", map[string]any{"ciphertext_blob": blob, "source_key_id": "alias/src"})
	_, err = tb.as("carol", logical.UpdateOperation, "re-encrypt/"+b, map[string]any{"ciphertext_blob": blob, "source_key_id": "alias/src"})
	requireKMSError(t, err, kmserr.AccessDenied)
	_, err = tb.as("carol", logical.UpdateOperation, "re-encrypt/alias/dst", map[string]any{"ciphertext_blob": blob})
	requireKMSError(t, err, kmserr.AccessDenied)
}

// AWS allows an encryption context constraint only in grants for symmetric
// encryption keys: on a signing key it constrained nothing (no operation
// carries a context), so the grantee could sign anything.
func TestGrantConstraintOnlyOnSymmetricKeys(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})["key_id"].(string)
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": iam + "user/bob", "operations": "Sign", "encryption_context_equals": map[string]any{"purpose": "release"}})
	hmac := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"key_spec": "HMAC_256"})["key_id"].(string)
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+hmac+"/grants", map[string]any{
		"grantee_principal": iam + "user/bob", "operations": "GenerateMac", "encryption_context_subset": map[string]any{"a": "b"}})
	sym := tb.asOK("admin", logical.UpdateOperation, "keys", nil)["key_id"].(string)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+sym+"/grants", map[string]any{
		"grantee_principal": iam + "user/bob", "operations": "Decrypt", "encryption_context_subset": map[string]any{"a": "b"}})
}

// kms:GranteePrincipal and kms:RetiringPrincipal hold every spelling of
// the grant's principal: a Deny written on the user ARN cannot be
// sidestepped by naming the same entity another way.
func TestGranteePrincipalConditionSeesEverySpelling(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"bob-delegates","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":"kms:CreateGrant","Resource":"*"}`,
		`{"Sid":"never-bob","Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:GranteePrincipal":"`+iam+`user/bob"}}}`,
		`{"Sid":"never-payments-retire","Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:RetiringPrincipal":"group:payments"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	for _, alt := range []string{iam + "user/bob", "entity_name:bob", "entity:bob", iam + "user/some/path/bob"} {
		tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": alt, "operations": "Decrypt"})
	}
	for _, alt := range []string{"group:payments", iam + "role/payments", iam + "role/a/path/payments"} {
		tb.asFails(kmserr.AccessDenied, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity_name:carol", "retiring_principal": alt, "operations": "Decrypt"})
	}
	tb.asOK("bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity_name:carol", "operations": "Decrypt"})
}

// On CreateGrant the encryption context condition keys test the grant's
// constraint, as in AWS: a Deny on kms:EncryptionContext:dept=hr refuses a
// grant constrained to dept=hr; a grant without a constraint leaves the key absent.
func TestCreateGrantContextKeysFromConstraint(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"bob","Effect":"Allow","Principal":{"AWS":"`+iam+`user/bob"},"Action":"kms:CreateGrant","Resource":"*"}`,
		`{"Sid":"no-hr","Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:CreateGrant"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:dept":"hr"}}}`,
		`{"Sid":"keys","Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"secret"}}}`,
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	for _, c := range []map[string]any{
		{"encryption_context_equals": map[string]any{"dept": "hr"}},
		{"encryption_context_subset": map[string]any{"dept": "hr", "x": "y"}},
		{"encryption_context_subset": map[string]any{"secret": "1"}},
	} {
		in := map[string]any{"grantee_principal": iam + "user/carol", "operations": "Encrypt"}
		for k, v := range c {
			in[k] = v
		}
		tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "keys/"+id+"/grants", in)
	}
	tb.asOK("bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/carol", "operations": "Encrypt",
		"encryption_context_equals": map[string]any{"dept": "sales"}})
	tb.asOK("bob", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": iam + "user/carol", "operations": "Encrypt"})
}
