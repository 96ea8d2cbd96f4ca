package integration

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// ownerPolicy allows everything to one entity only.
func ownerPolicy(entityID string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"owner","Effect":"Allow","Principal":{"Vault":"entity:` + entityID + `"},"Action":"kms:*","Resource":"*"}]}`
}

// A user whom a key's policy denies cannot create, repoint or delete the
// key's aliases, through the Vault-style paths or the AWS endpoint.
func TestAliasChangesNeedTheKeyPolicy(t *testing.T) {
	ctx := t.Context()
	users := identities(t)
	alice, bob := users["alice"], users["bob"]
	victim := alice.mustWrite(t, "kms/keys", map[string]any{"policy": ownerPolicy(alice.entityID)}).Data["key_id"].(string)
	own := bob.mustWrite(t, "kms/keys", map[string]any{"policy": ownerPolicy(bob.entityID)}).Data["key_id"].(string)
	name := unique("alias/orders")
	alice.mustWrite(t, "kms/aliases/"+name, map[string]any{"target_key_id": victim})
	target := func() string { return read(t, "kms/aliases/"+name).Data["target_key_id"].(string) }

	// Vault-style paths: 403 AccessDeniedException, the alias unchanged.
	stolen := unique("alias/stolen")
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/aliases/"+stolen, map[string]any{"target_key_id": victim})
	_, err := bob.client.Logical().JSONMergePatch(ctx, "kms/aliases/"+name, map[string]any{"target_key_id": own})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	require.Equal(t, victim, target())
	_, err = bob.client.Logical().Delete("kms/aliases/" + name)
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	require.Equal(t, victim, target())

	// The AWS endpoint: AccessDeniedException, the alias unchanged.
	asBob := awsClient("kms", bob.client.Token())
	_, err = asBob.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(stolen), TargetKeyId: aws.String(victim)})
	requireErrorCode(t, err, "AccessDeniedException")
	_, err = asBob.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(own)})
	requireErrorCode(t, err, "AccessDeniedException")
	require.Equal(t, victim, target())
	_, err = asBob.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(name)})
	requireErrorCode(t, err, "AccessDeniedException")
	require.Equal(t, victim, target())
	readErr(t, "kms/aliases/"+stolen, http.StatusNotFound, "NotFoundException")

	// Alice may not repoint her alias at bob's key either: bob's policy
	// does not allow her UpdateAlias on it.
	_, err = alice.client.Logical().JSONMergePatch(ctx, "kms/aliases/"+name, map[string]any{"target_key_id": own})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	require.Equal(t, victim, target())
	_, err = alice.client.Logical().Delete("kms/aliases/" + name)
	require.NoError(t, err)
}

// A token without an entity (an orphan token of a token role) is
// no_entity: an Allow statement's * does not admit it, a statement naming
// no_entity does, and a Deny statement's * refuses it.
func TestEntitylessTokenIsNoEntity(t *testing.T) {
	users := identities(t)
	alice, bob := users["alice"], users["bob"]
	role := unique("orphans")
	write(t, "auth/token/roles/"+role, map[string]any{"orphan": true, "allowed_policies": "kms-all"})
	out := mustCLI(t, dev, "token", "create", "-role="+role, "-policy=kms-all", "-field=token")
	orphan, err := dev.client.Clone()
	require.NoError(t, err)
	orphan.SetToken(out)
	self, err := orphan.Auth().Token().LookupSelf()
	require.NoError(t, err)
	require.Equal(t, true, self.Data["orphan"])
	require.Empty(t, self.Data["entity_id"], "the token must have no entity")
	encrypt := func(c *api.Client, id string) error {
		_, err := c.Logical().Write("kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))})
		return err
	}

	// The default policy delegates to Vault's ACL for every token.
	open := write(t, "kms/keys", nil).Data["key_id"].(string)
	require.NoError(t, encrypt(orphan, open))

	owner := `{"Sid":"owner","Effect":"Allow","Principal":{"Vault":"entity:` + alice.entityID + `"},"Action":"kms:*","Resource":"*"}`
	everyone := `{"Sid":"everyone","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`
	id := alice.mustWrite(t, "kms/keys", map[string]any{"policy": awsPolicy(owner, everyone)}).Data["key_id"].(string)
	require.NoError(t, encrypt(bob.client, id))
	requireAWSError(t, encrypt(orphan, id), http.StatusForbidden, "AccessDeniedException")

	named := `{"Sid":"orphans","Effect":"Allow","Principal":{"Vault":"no_entity"},"Action":"kms:Encrypt","Resource":"*"}`
	alice.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": awsPolicy(owner, everyone, named)})
	require.NoError(t, encrypt(orphan, id))

	deny := `{"Sid":"nobody","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`
	alice.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": awsPolicy(owner, named, deny)})
	requireAWSError(t, encrypt(orphan, id), http.StatusForbidden, "AccessDeniedException")
	requireAWSError(t, encrypt(bob.client, id), http.StatusForbidden, "AccessDeniedException")
}

// A Vault ACL rule on kms/keys/+/policy cannot be sidestepped by naming the
// key by its ARN (or an alias), whose / makes the path longer.
func TestACLOnKeyPolicyPathHoldsForARNs(t *testing.T) {
	key := write(t, "kms/keys", map[string]any{"alias": unique("alias/acl")}).Data
	id, arn := key["key_id"].(string), key["arn"].(string)
	alias := key["aliases"].([]any)[0].(string)
	policy := unique("kms-no-key-policy")
	require.NoError(t, dev.client.Sys().PutPolicy(policy, `
path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "kms/keys/+/policy" { capabilities = ["deny"] }`))
	tok, err := dev.client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{policy}})
	require.NoError(t, err)
	c, err := dev.client.Clone()
	require.NoError(t, err)
	c.SetToken(tok.Auth.ClientToken)
	mine := awsPolicy(`{"Effect":"Allow","Principal":{"Vault":"no_entity"},"Action":"kms:Encrypt","Resource":"*"}`)

	_, err = c.Logical().Read("kms/keys/" + id + "/policy")
	requirePermissionDenied(t, err)
	for _, ref := range []string{arn, alias} {
		resp, err := c.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+ref+"/policy")
		if resp != nil {
			resp.Body.Close()
		}
		requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
		_, err = c.Logical().Write("kms/keys/"+ref+"/policy", map[string]any{"policy": mine, "bypass_policy_lockout_safety_check": true})
		requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	}
	require.NotContains(t, read(t, "kms/keys/"+id+"/policy").Data["policy"], "Encrypt", "the policy is unchanged")
	// The same token may still describe the key by ARN and use it.
	_, err = c.Logical().Read("kms/keys/" + arn)
	require.NoError(t, err)
	_, err = c.Logical().Write("kms/encrypt/"+arn, map[string]any{"plaintext": b64([]byte("x"))})
	require.NoError(t, err)
}

func requirePermissionDenied(t *testing.T, err error) {
	t.Helper()
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.Contains(t, re.Error(), "permission denied")
}
