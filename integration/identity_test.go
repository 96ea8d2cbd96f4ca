package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// Issue 21's identity items against a real Vault identity store: userpass
// users whose entities and groups are named in mixed case, an entity
// merge, an orphan token minted by a denied user, grantee spellings, and
// AWS's NotPrincipal pattern.

const acctARN = "arn:aws:iam::000000000000:"

// payments returns the id and name of the group identities() puts alice in.
func paymentsGroup(t *testing.T, alice *user) (id, name string) {
	t.Helper()
	for _, g := range read(t, "identity/entity/id/"+alice.entityID).Data["direct_group_ids"].([]any) {
		gi := read(t, "identity/group/id/"+g.(string))
		if n := gi.Data["name"].(string); strings.HasPrefix(n, "payments-") {
			return g.(string), n
		}
	}
	t.Fatal("alice is in no payments group")
	return "", ""
}

func encryptAs(c *api.Client, id string) error {
	_, err := c.Logical().Write("kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))})
	return err
}

// Item 1: Vault's identity store names are case-insensitive, and so are
// the plugin's: a Deny on user/<lower-case name> applies to the entity
// stored in mixed case, and one on role/<upper-case name> to the group.
func TestIdentityNameCase(t *testing.T) {
	users := identities(t)
	mallory, alice := users["bob"], users["alice"]
	name := "Mallory-" + unique("X")
	write(t, "identity/entity/id/"+mallory.entityID, map[string]any{"name": name})
	// Vault's own premise: the lower-case name finds the entity.
	require.Equal(t, mallory.entityID, read(t, "identity/entity/name/"+strings.ToLower(name)).Data["id"])
	_, group := paymentsGroup(t, alice)

	id := write(t, "kms/keys", map[string]any{"policy": awsPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+acctARN+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+acctARN+`user/`+strings.ToLower(name)+`"},"Action":"kms:Encrypt","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+acctARN+`role/`+strings.ToUpper(group)+`"},"Action":"kms:DescribeKey","Resource":"*"}`)}).Data["key_id"].(string)
	requireAWSError(t, encryptAs(mallory.client, id), http.StatusForbidden, "AccessDeniedException")
	require.NoError(t, encryptAs(alice.client, id))
	_, err := alice.client.Logical().Read("kms/keys/" + id)
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	_, err = mallory.client.Logical().Read("kms/keys/" + id)
	require.NoError(t, err)
}

// Item 2: after identity/entity/merge, the merged-away entity's token
// still works in Vault, but the plugin refuses it: its entity no longer
// exists, and as an unknown caller it would escape every Deny naming her.
func TestMergedEntityTokenRefused(t *testing.T) {
	users := identities(t)
	mallory := users["bob"]
	id := write(t, "kms/keys", nil).Data["key_id"].(string)
	require.NoError(t, encryptAs(mallory.client, id))

	into := write(t, "identity/entity", map[string]any{"name": unique("merged-into")}).Data["id"].(string)
	write(t, "identity/entity/merge", map[string]any{"from_entity_ids": []string{mallory.entityID}, "to_entity_id": into})
	self, err := mallory.client.Auth().Token().LookupSelf()
	require.NoError(t, err, "Vault keeps the token working")
	require.Equal(t, mallory.entityID, self.Data["entity_id"])

	// The plugin caches identities for 5 seconds.
	var last error
	require.Eventually(t, func() bool {
		last = encryptAs(mallory.client, id)
		return last != nil
	}, 15*time.Second, 250*time.Millisecond)
	requireAWSError(t, last, http.StatusForbidden, "AccessDeniedException")
	require.Contains(t, last.Error(), "entity no longer exists")
}

// Item 3: a user named in a Deny mints an orphan token (the common ACL
// rule on auth/token/create* allows it without sudo); the orphan token,
// having no entity, could be her, so the Deny applies to it as well.
func TestOrphanTokenOfDeniedUser(t *testing.T) {
	users, arns := iamIdentities(t)
	mallory := users["bob"]
	require.NoError(t, dev.client.Sys().PutPolicy("kms-and-tokens", `
path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "auth/token/create*" { capabilities = ["create", "update"] }`))
	write(t, "identity/entity/id/"+mallory.entityID, map[string]any{"policies": []string{"kms-and-tokens"}})

	id := write(t, "kms/keys", map[string]any{"policy": awsPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+acctARN+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+arns["bob"]+`"},"Action":["kms:Decrypt","kms:ScheduleKeyDeletion"],"Resource":"*"}`)}).Data["key_id"].(string)
	blob := mallory.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("secret"))}).Data["ciphertext_blob"]
	mallory.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob})

	// The orphan inherits her token policies (kms-all); the entity policy
	// lets her call auth/token/create*.
	tok, err := mallory.client.Logical().Write("auth/token/create-orphan", nil)
	require.NoError(t, err)
	orphan, err := dev.client.Clone()
	require.NoError(t, err)
	orphan.SetToken(tok.Auth.ClientToken)
	self, err := orphan.Auth().Token().LookupSelf()
	require.NoError(t, err)
	require.Empty(t, self.Data["entity_id"], "an orphan token has no entity")

	_, err = orphan.Logical().Write("kms/decrypt", map[string]any{"ciphertext_blob": blob})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	_, err = orphan.Logical().Write("kms/keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	_, err = awsClient("kms", tok.Auth.ClientToken).Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: unb64(t, blob)})
	requireErrorCode(t, err, "AccessDeniedException")
	// What no Deny naming a person covers stays open to it.
	require.NoError(t, encryptAs(orphan, id))
	require.Equal(t, "Enabled", read(t, "kms/keys/"+id).Data["key_state"])

	// A Deny naming her by aws:username holds for the orphan token too.
	byName := write(t, "kms/keys", map[string]any{"policy": awsPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+acctARN+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:username":"`+mallory.entityName+`"}}}`)}).Data["key_id"].(string)
	blob = mallory.mustWrite(t, "kms/encrypt/"+byName, map[string]any{"plaintext": b64([]byte("secret"))}).Data["ciphertext_blob"]
	mallory.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob})
	_, err = orphan.Logical().Write("kms/decrypt", map[string]any{"ciphertext_blob": blob})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	users["alice"].mustWrite(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob})
}

// Item 4: a Deny on kms:GranteePrincipal equal to the account root or a
// role ARN holds whichever spelling the grant uses; grants list the
// canonical form.
func TestGranteeSpellingsWithVaultIdentities(t *testing.T) {
	users, arns := iamIdentities(t)
	alice, bob := users["alice"], users["bob"]
	gid, group := paymentsGroup(t, alice)
	id := write(t, "kms/keys", map[string]any{"policy": awsPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+acctARN+`root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"StringEquals":{"kms:GranteePrincipal":["`+acctARN+`root","`+arns["payments"]+`"]}}}`)}).Data["key_id"].(string)
	for _, spelling := range []string{"000000000000", acctARN + "root", "group:" + group, "group:" + strings.ToUpper(group),
		"group_id:" + gid, "arn:aws:sts::000000000000:assumed-role/" + group + "/s1"} {
		alice.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/keys/"+id+"/grants",
			map[string]any{"grantee_principal": spelling, "operations": "Decrypt"})
	}
	_, err := awsClient("kms", alice.client.Token()).CreateGrant(t.Context(), &kms.CreateGrantInput{KeyId: aws.String(id),
		GranteePrincipal: aws.String("000000000000"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	requireErrorCode(t, err, "AccessDeniedException")
	// bob is not in the group: its id does not resolve for him.
	bob.refused(t, http.StatusBadRequest, "ValidationException", "kms/keys/"+id+"/grants",
		map[string]any{"grantee_principal": "group_id:" + gid, "operations": "Decrypt"})

	alice.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:" + bob.entityID, "operations": "Decrypt"})
	list, err := alice.client.Logical().List("kms/keys/" + id + "/grants")
	require.NoError(t, err)
	keys := list.Data["keys"].([]any)
	require.Len(t, keys, 1)
	info := list.Data["key_info"].(map[string]any)[keys[0].(string)].(map[string]any)
	require.Equal(t, strings.ToLower(arns["bob"]), info["grantee_principal"])
}

// Item 5: AWS's "deny everyone except Bob" key policy, for an IAM user
// and for a role session.
func TestNotPrincipalPatternWithVaultIdentities(t *testing.T) {
	users, arns := iamIdentities(t)
	alice, bob, carol := users["alice"], users["bob"], users["carol"]
	_, group := paymentsGroup(t, alice)
	allow := `{"Effect":"Allow","Principal":{"AWS":"` + acctARN + `root"},"Action":"kms:*","Resource":"*"}`
	onlyBob := bob.mustWrite(t, "kms/keys", map[string]any{"policy": awsPolicy(allow,
		`{"Effect":"Deny","NotPrincipal":{"AWS":["`+arns["bob"]+`","`+acctARN+`root"]},"Action":"kms:*","Resource":"*"}`)}).Data["key_id"].(string)
	require.NoError(t, encryptAs(bob.client, onlyBob))
	for _, c := range []*api.Client{alice.client, carol.client, dev.client} {
		requireAWSError(t, encryptAs(c, onlyBob), http.StatusForbidden, "AccessDeniedException")
	}
	onlyRole := alice.mustWrite(t, "kms/keys", map[string]any{"policy": awsPolicy(allow,
		`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::000000000000:assumed-role/`+group+`/s1","`+arns["payments"]+`","000000000000"]},"Action":"kms:*","Resource":"*"}`)}).Data["key_id"].(string)
	require.NoError(t, encryptAs(alice.client, onlyRole))
	for _, c := range []*api.Client{bob.client, carol.client, dev.client} {
		requireAWSError(t, encryptAs(c, onlyRole), http.StatusForbidden, "AccessDeniedException")
	}
}
