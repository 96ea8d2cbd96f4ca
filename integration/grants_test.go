package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// user is a userpass login with its own client and Vault entity.
type user struct {
	name       string
	client     *api.Client
	entityID   string
	entityName string // Vault names a login's auto-created entity entity_<hash>
}

// identities sets up userpass with alice, bob and carol, their entities, a
// group payments holding alice, and ACL policies that let them call every
// path of the mount (but no sudo), so only the plugin's layer decides; dan
// may call everything but decrypt.
func identities(t *testing.T) map[string]*user {
	t.Helper()
	root := dev.client
	path := unique("userpass")
	require.NoError(t, root.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: "userpass"}))
	require.NoError(t, root.Sys().PutPolicy("kms-all", `path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }`))
	require.NoError(t, root.Sys().PutPolicy("kms-no-decrypt", `
path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "kms/decrypt" { capabilities = ["deny"] }
path "kms/decrypt/*" { capabilities = ["deny"] }`))
	users := map[string]*user{}
	for name, policy := range map[string]string{"alice": "kms-all", "bob": "kms-all", "carol": "kms-all", "dan": "kms-no-decrypt"} {
		write(t, "auth/"+path+"/users/"+name, map[string]any{"password": "pw-" + name, "token_policies": policy})
		login, err := root.Logical().Write("auth/"+path+"/login/"+name, map[string]any{"password": "pw-" + name})
		require.NoError(t, err)
		c, err := root.Clone()
		require.NoError(t, err)
		c.SetToken(login.Auth.ClientToken)
		require.NotEmpty(t, login.Auth.EntityID)
		ent := read(t, "identity/entity/id/"+login.Auth.EntityID)
		users[name] = &user{name: name, client: c, entityID: login.Auth.EntityID, entityName: ent.Data["name"].(string)}
	}
	write(t, "identity/group", map[string]any{"name": unique("payments"), "member_entity_ids": []string{users["alice"].entityID}})
	return users
}

func (u *user) write(path string, data map[string]any) (*api.Secret, error) {
	return u.client.Logical().Write(path, data)
}

func (u *user) mustWrite(t *testing.T, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := u.write(path, data)
	require.NoError(t, err, "%s writes %s", u.name, path)
	return s
}

func (u *user) refused(t *testing.T, status int, exception string, path string, data map[string]any) {
	t.Helper()
	_, err := u.write(path, data)
	requireAWSError(t, err, status, exception)
}

func TestPoliciesAndGrantsWithVaultIdentities(t *testing.T) {
	users := identities(t)
	alice, bob, carol, dan := users["alice"], users["bob"], users["carol"], users["dan"]
	var group string
	groups, err := dev.client.Logical().Read("identity/entity/id/" + alice.entityID)
	require.NoError(t, err)
	for _, g := range groups.Data["direct_group_ids"].([]any) {
		gi, err := dev.client.Logical().Read("identity/group/id/" + g.(string))
		require.NoError(t, err)
		group = gi.Data["name"].(string)
	}
	require.NotEmpty(t, group)

	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{
		{"Sid": "owner", "Effect": "Allow", "Principal": map[string]any{"Vault": "entity:" + carol.entityID}, "Action": "kms:*", "Resource": "*"},
		{"Sid": "payments", "Effect": "Allow", "Principal": map[string]any{"Vault": "group:" + group}, "Action": []string{"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"}, "Resource": "*"},
		{"Sid": "dan", "Effect": "Allow", "Principal": map[string]any{"Vault": "entity_name:" + dan.entityName}, "Action": []string{"kms:Decrypt", "kms:Encrypt"}, "Resource": "*"},
	}})
	id := carol.mustWrite(t, "kms/keys", map[string]any{"policy": string(policy)}).Data["key_id"].(string)
	pt := b64([]byte("card 4111"))

	// The key policy: alice (group payments) may, bob may not.
	blob := alice.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt}).Data["ciphertext_blob"]
	alice.mustWrite(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob})

	// A grant gives bob Encrypt under a context-subset constraint.
	grant := carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:" + bob.entityID, "operations": "Encrypt", "retiring_principal": "entity:" + alice.entityID,
		"encryption_context_subset": map[string]any{"team": "bob"}, "name": "bob-enc",
	}).Data
	bob.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "bob", "x": "1"}})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "eve"}})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob})

	// Name idempotency.
	again := carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:" + bob.entityID, "operations": "Encrypt", "retiring_principal": "entity:" + alice.entityID,
		"encryption_context_subset": map[string]any{"team": "bob"}, "name": "bob-enc",
	}).Data
	require.Equal(t, grant["grant_id"], again["grant_id"])

	// Retiring by the retiring principal takes effect on the next request.
	alice.mustWrite(t, "kms/grants/retire", map[string]any{"grant_token": grant["grant_token"]})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"team": "bob"}})

	// Revoking by the owner, likewise.
	g2 := carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "entity_name:" + bob.entityName, "operations": "Encrypt,CreateGrant"}).Data
	bob.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	// CreateGrant delegation cannot widen.
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:" + dan.entityID, "operations": "Encrypt,Decrypt"})
	bob.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:" + dan.entityID, "operations": "Encrypt"})
	_, err = carol.client.Logical().Delete("kms/keys/" + id + "/grants/" + g2["grant_id"].(string))
	require.NoError(t, err)
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/encrypt/"+id, map[string]any{"plaintext": pt})

	// A Deny statement beats a grant.
	carol.mustWrite(t, "kms/keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:" + bob.entityID, "operations": "Decrypt"})
	bob.mustWrite(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob})
	var doc map[string]any
	require.NoError(t, json.Unmarshal(policy, &doc))
	doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Sid": "no-bob", "Effect": "Deny", "Principal": map[string]any{"Vault": "entity:" + bob.entityID}, "Action": "kms:Decrypt", "Resource": "*"})
	withDeny, _ := json.Marshal(doc)
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": string(withDeny)})
	bob.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/decrypt", map[string]any{"ciphertext_blob": blob})

	// Vault's ACL is the first gate: dan is allowed by the key policy, but
	// Vault refuses his decrypt before the plugin sees it.
	dan.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt})
	_, err = dan.write("kms/decrypt", map[string]any{"ciphertext_blob": blob})
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.Contains(t, re.Error(), "permission denied")
	require.NotContains(t, re.Error(), "AccessDeniedException", "Vault, not the plugin, refused")

	// Lockout safety, then recovery through the sudo path.
	lockout := awsPolicy(`{"Effect":"Allow","Principal":{"Vault":"entity:` + alice.entityID + `"},"Action":"kms:Encrypt","Resource":"*"}`)
	carol.refused(t, http.StatusBadRequest, "MalformedPolicyDocumentException", "kms/keys/"+id+"/policy", map[string]any{"policy": lockout})
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": lockout, "bypass_policy_lockout_safety_check": true})
	carol.refused(t, http.StatusForbidden, "AccessDeniedException", "kms/keys/"+id+"/policy", map[string]any{"policy": string(policy)})
	_, err = carol.write("kms/policy-recovery/"+id, map[string]any{"policy": string(policy)})
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusForbidden, re.StatusCode, "recovery needs sudo, which carol's ACL lacks")
	write(t, "kms/policy-recovery/"+id, map[string]any{"policy": string(policy)}) // the root token has sudo
	carol.mustWrite(t, "kms/keys/"+id+"/policy", map[string]any{"policy": string(policy)})
	alice.mustWrite(t, "kms/encrypt/"+id, map[string]any{"plaintext": pt})

	// Decisions are logged at debug with key, operation, principal and
	// cause; the plaintext never is.
	logText, err := os.ReadFile(filepath.Join(dev.dir, "vault.log"))
	require.NoError(t, err)
	// hclog's field order varies across the plugin boundary: match fields.
	hasLine := func(fields ...string) bool {
		for _, line := range strings.Split(string(logText), "\n") {
			all := strings.Contains(line, "authorization:")
			for _, f := range fields {
				all = all && strings.Contains(line, f)
			}
			if all {
				return true
			}
		}
		return false
	}
	require.True(t, hasLine("key_id="+id, "operation=Decrypt", "principal=entity:"+bob.entityID, "decision=deny", `by="policy statement no-bob"`))
	require.True(t, hasLine("key_id="+id, "operation=Encrypt", "decision=allow", `by="grant `))
	require.NotContains(t, string(logText), pt)
	require.NotContains(t, string(logText), "card 4111")
}
