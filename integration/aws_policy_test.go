package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// The twins of grants_test.go and aws_access_test.go in the AWS policy
// language: IAM ARNs name Vault identities (user/<entity name>,
// role/<group name>), on the Vault-style paths and the AWS endpoint.

// iamIdentities is identities() with entities named as IAM users (unique
// per run, since the dev server is shared) and the name of the payments
// group, which holds alice; it returns the ARN of each user and of the role.
func iamIdentities(t *testing.T) (map[string]*user, map[string]string) {
	t.Helper()
	users := identities(t)
	arns := map[string]string{}
	for name, u := range users {
		u.entityName = unique(name)
		write(t, "identity/entity/id/"+u.entityID, map[string]any{"name": u.entityName})
		arns[name] = "arn:aws:iam::000000000000:user/" + u.entityName
	}
	ent := read(t, "identity/entity/id/"+users["alice"].entityID)
	for _, g := range ent.Data["direct_group_ids"].([]any) {
		gi := read(t, "identity/group/id/"+g.(string))
		if name := gi.Data["name"].(string); strings.HasPrefix(name, "payments-") {
			arns["payments"] = "arn:aws:iam::000000000000:role/" + name
		}
	}
	require.NotEmpty(t, arns["payments"])
	return users, arns
}

func awsPolicy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func TestAWSPoliciesAndGrantsWithVaultIdentities(t *testing.T) {
	users, arns := iamIdentities(t)
	alice, bob, carol, dan := users["alice"], users["bob"], users["carol"], users["dan"]
	owner := `{"Sid":"owner","Effect":"Allow","Principal":{"AWS":"` + arns["carol"] + `"},"Action":"kms:*","Resource":"*"}`
	policy := awsPolicy(owner,
		`{"Sid":"payments","Effect":"Allow","Principal":{"AWS":"`+arns["payments"]+`"},"Action":["kms:Encrypt","kms:Decrypt","kms:Describe*"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:app":"payments"}}}`,
		`{"Sid":"dan","Effect":"Allow","Principal":{"Vault":"entity_name:`+dan.entityName+`"},"Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}`)
	id := carol.mustWrite(t, "kms/keys", map[string]any{"policy": policy}).Data["key_id"].(string)
	require.Equal(t, policy, carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": policy}).Data["policy"])
	got, err := carol.client.Logical().Read("kms/keys/" + id + "/policy")
	require.NoError(t, err)
	require.Equal(t, policy, got.Data["policy"], "GetKeyPolicy returns the document as put")
	pt := b64([]byte("card 4111"))
	app := map[string]any{"app": "payments"}

	// The key policy: alice (role payments) may, with the right context; bob may not.
	blob := alice.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": app}).Data["ciphertext_blob"]
	alice.mustWrite(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": app})
	alice.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"app": "billing"}})
	alice.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": app})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": app})

	// A grant to bob's IAM user ARN, retired by the payments role.
	grant := carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{
		"grantee_principal": arns["bob"], "operations": "Encrypt", "retiring_principal": arns["payments"],
		"encryption_context_subset": map[string]any{"team": "bob"}, "name": "bob-enc",
	}).Data
	bob.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "bob", "x": "1"}})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "eve"}})
	again := carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{
		"grantee_principal": arns["bob"], "operations": "Encrypt", "retiring_principal": arns["payments"],
		"encryption_context_subset": map[string]any{"team": "bob"}, "name": "bob-enc",
	}).Data
	require.Equal(t, grant["grant_id"], again["grant_id"])
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	alice.mustWrite(t, "kms/grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "bob"}})

	// A grant to another account's user matches nobody here.
	carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "arn:aws:iam::111122223333:user/" + bob.entityName, "operations": "Encrypt"})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	carol.refused(t, http.StatusBadRequest, "ValidationException", "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "arn:aws:iam::000000000000:group/x", "operations": "Encrypt"})

	// A Deny statement beats a grant.
	carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": arns["bob"], "operations": "Decrypt"})
	bob.mustWrite(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": app})
	withDeny := strings.TrimSuffix(policy, "]}") + `,{"Sid":"no-bob","Effect":"Deny","Principal":{"AWS":"` + arns["bob"] + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": withDeny})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": app})

	// Vault's ACL is still the first gate.
	dan.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	_, err = dan.write("kms/decrypt", map[string]any{"ciphertext_blob": blob})
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.NotContains(t, re.Error(), "AccessDeniedException")

	// Malformed documents name the element.
	_, err = carol.write("kms/keys/"+id+"/policy", map[string]any{"policy": awsPolicy(`{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*","Conditions":{}}`)})
	requireAWSError(t, err, http.StatusBadRequest, "MalformedPolicyDocumentException")
	require.Contains(t, err.Error(), "Statement[0].Conditions")

	// Lockout safety, then recovery through the sudo path.
	lockout := awsPolicy(`{"Effect":"Allow","Principal":{"AWS":"` + arns["alice"] + `"},"Action":"kms:Encrypt","Resource":"*"}`)
	carol.refused(t, http.StatusBadRequest, "MalformedPolicyDocumentException", "kms/keys/"+id+"/policy", map[string]any{"policy": lockout})
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": lockout, "bypass_policy_lockout_safety_check": true})
	carol.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/keys/"+id+"/policy", map[string]any{"policy": policy})
	_, err = carol.write("kms/policy-recovery/"+id, map[string]any{"policy": policy})
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusForbidden, re.StatusCode, "recovery needs sudo")
	write(t, "kms/policy-recovery/"+id, map[string]any{"policy": policy})
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": policy})
	alice.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": app})

	// A new key's default policy names the mount's account and lets every
	// identity the ACL admits through.
	def := bob.mustWrite(t, "kms/keys", nil).Data["key_id"].(string)
	dp, err := bob.client.Logical().Read("kms/keys/" + def + "/policy")
	require.NoError(t, err)
	require.JSONEq(t, `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}`, dp.Data["policy"].(string))
	alice.mustWrite(t, "kms/encrypt/"+def, map[string]any{"plaintext": pt})

	logText, err := os.ReadFile(filepath.Join(dev.dir, "vault.log"))
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(logText), "\n") {
		if strings.Contains(line, "authorization:") && strings.Contains(line, "key_id="+id) && strings.Contains(line, "operation=Decrypt") &&
			strings.Contains(line, "principal=entity:"+bob.entityID) && strings.Contains(line, `by="policy statement no-bob"`) {
			found = true
		}
	}
	require.True(t, found, "the deny by statement no-bob is in the debug log")
	require.NotContains(t, string(logText), "card 4111")
}

// The AWS SDK sends AWS documents and IAM ARNs as AWS tools do.
func TestAWSSDKPolicyLanguage(t *testing.T) {
	ctx := t.Context()
	users, arns := iamIdentities(t)
	alice, bob := users["alice"], users["bob"]
	root := awsClient("kms", dev.token)
	asAlice := awsClient("kms", alice.client.Token())
	asBob := awsClient("kms", bob.client.Token())

	policy := awsPolicy(
		`{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"No bob decrypt outside his app","Effect":"Deny","Principal":{"AWS":"`+arns["bob"]+`"},"Action":"kms:Decrypt","Resource":"*",
		  "Condition":{"StringNotEquals":{"kms:EncryptionContext:app":"bob"}}}`)
	key, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy)})
	require.NoError(t, err)
	id := key.KeyMetadata.KeyId
	got, err := asAlice.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id, PolicyName: aws.String("default")})
	require.NoError(t, err)
	require.Equal(t, policy, aws.ToString(got.Policy))

	enc := func(c *kms.Client, ec map[string]string) []byte {
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), EncryptionContext: ec})
		require.NoError(t, err)
		return out.CiphertextBlob
	}
	own, other := enc(asBob, map[string]string{"app": "bob"}), enc(asAlice, map[string]string{"app": "alice"})
	_, err = asBob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: own, EncryptionContext: map[string]string{"app": "bob"}})
	require.NoError(t, err)
	_, err = asBob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: other, EncryptionContext: map[string]string{"app": "alice"}})
	requireErrorCode(t, err, "AccessDeniedException")

	// PutKeyPolicy: only alice, and a grant to bob's IAM ARN.
	only := awsPolicy(`{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"` + arns["alice"] + `"},"Action":"kms:*","Resource":"` + aws.ToString(key.KeyMetadata.Arn) + `"}`)
	_, err = asBob.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(only)})
	requireAPIError[*types.MalformedPolicyDocumentException](t, err) // bob would lock himself out
	_, err = asAlice.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(only)})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	requireErrorCode(t, err, "AccessDeniedException")
	g, err := asAlice.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String(arns["bob"]),
		RetiringPrincipal: aws.String(arns["alice"]), Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	require.NoError(t, err)
	list, err := asAlice.ListGrants(ctx, &kms.ListGrantsInput{KeyId: id})
	require.NoError(t, err)
	require.Len(t, list.Grants, 1)
	require.Equal(t, arns["bob"], aws.ToString(list.Grants[0].GranteePrincipal))
	_, err = asAlice.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	requireErrorCode(t, err, "AccessDeniedException")

	_, err = asAlice.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Nope","Resource":"*"}}`)})
	malformed := requireAPIError[*types.MalformedPolicyDocumentException](t, err)
	require.Contains(t, malformed.ErrorMessage(), "Statement[0].Action")
	_, err = asAlice.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String("arn:aws:iam::000000000000:group/x"),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	requireErrorCode(t, err, "ValidationException")
}

// Global condition keys from the request as Vault saw it: the client's
// address and the transport, through a real Vault's plugin boundary.
func TestAWSPolicySourceIPAndTransport(t *testing.T) {
	users, arns := iamIdentities(t)
	alice := users["alice"]
	admin := `{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*","Condition":{"Null":{"aws:username":"true"}}}`
	id := write(t, "kms/keys", map[string]any{"policy": awsPolicy(admin,
		`{"Sid":"local","Effect":"Allow","Principal":{"AWS":"`+arns["alice"]+`"},"Action":"kms:Encrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"Bool":{"aws:SecureTransport":"false"}}}`)}).Data["key_id"].(string)
	alice.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))})
	write(t, "kms/keys/"+id+"/policy", map[string]any{"policy": awsPolicy(admin,
		`{"Sid":"remote","Effect":"Allow","Principal":{"AWS":"`+arns["alice"]+`"},"Action":"kms:Encrypt","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}`)})
	alice.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))})
}
