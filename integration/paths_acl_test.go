package integration

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// aclUser logs in a new userpass user whose only policy is hcl, so Vault's
// ACL decides what it may call.
func aclUser(t *testing.T, hcl string) *api.Client {
	t.Helper()
	root := dev.client
	mount, name := unique("userpass-acl"), unique("acl")
	require.NoError(t, root.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "userpass"}))
	require.NoError(t, root.Sys().PutPolicy(name, hcl))
	write(t, "auth/"+mount+"/users/u", map[string]any{"password": "pw", "token_policies": name})
	login, err := root.Logical().Write("auth/"+mount+"/login/u", map[string]any{"password": "pw"})
	require.NoError(t, err)
	c, err := root.Clone()
	require.NoError(t, err)
	c.SetToken(login.Auth.ClientToken)
	return c
}

// requireACLDenied asserts Vault's own refusal: 403 permission denied.
func requireACLDenied(t *testing.T, err error) {
	t.Helper()
	var re *api.ResponseError
	require.True(t, errors.As(err, &re), "want an HTTP error, got %v", err)
	require.Equal(t, http.StatusForbidden, re.StatusCode, "errors: %v", re.Errors)
	require.Contains(t, strings.Join(re.Errors, "; "), "permission denied")
}

// Issue 21 item 14: a key reference with white space around it reached the
// key (it was trimmed), so kms/keys/<id>%20/policy got past an ACL rule on
// kms/keys/<id>/policy. Against a real Vault ACL naming the exact per-key
// paths, every padded form is now NotFound and the key is untouched.
func TestPaddedKeyIDsDoNotEvadePerKeyACL(t *testing.T) {
	id := write(t, "kms/keys", nil).Data["key_id"].(string)
	alias := unique("alias/padded")
	write(t, "kms/aliases/"+alias, map[string]any{"target_key_id": id})
	policy := read(t, "kms/keys/"+id+"/policy").Data["policy"]
	c := aclUser(t, `
path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "kms/keys/`+id+`" { capabilities = ["deny"] }
path "kms/keys/`+id+`/policy" { capabilities = ["deny"] }
path "kms/keys/`+id+`/schedule-deletion" { capabilities = ["deny"] }
path "kms/keys/`+id+`/disable" { capabilities = ["deny"] }
path "kms/encrypt/`+id+`" { capabilities = ["deny"] }
path "kms/encrypt/`+alias+`" { capabilities = ["deny"] }
`)
	newPolicy := awsPolicy(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`)
	calls := []struct {
		path string
		data map[string]any
	}{
		{"kms/keys/%s/policy", map[string]any{"policy": newPolicy, "bypass_policy_lockout_safety_check": true}},
		{"kms/keys/%s/schedule-deletion", map[string]any{"pending_window_days": 7}},
		{"kms/keys/%s/disable", nil},
		{"kms/keys/%s", map[string]any{"description": "mine now"}},
		{"kms/encrypt/%s", map[string]any{"plaintext": b64([]byte("x"))}},
	}
	at := func(format, ref string) string { return fmt.Sprintf(format, ref) }
	for _, call := range calls {
		// The exact path: Vault's ACL refuses it.
		_, err := c.Logical().Write(at(call.path, id), call.data)
		requireACLDenied(t, err)
		for _, ref := range []string{id + " ", " " + id, "  " + id + "  "} {
			_, err := c.Logical().Write(at(call.path, ref), call.data)
			requireAWSError(t, err, http.StatusNotFound, "NotFoundException")
		}
		// Other white space: Vault itself refuses some (400, before the
		// plugin), the plugin the rest; never a success.
		for _, ref := range []string{id + "\t", "\u00a0" + id, id + "\u3000"} {
			_, err := c.Logical().Write(at(call.path, ref), call.data)
			var re *api.ResponseError
			require.True(t, errors.As(err, &re), "%q: want an HTTP error, got %v", ref, err)
			require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, re.StatusCode, "%q", ref)
		}
	}
	_, err := c.Logical().Write("kms/encrypt/"+alias, map[string]any{"plaintext": b64([]byte("x"))})
	requireACLDenied(t, err)
	for _, ref := range []string{alias + " ", " " + alias} {
		_, err := c.Logical().Write("kms/encrypt/"+ref, map[string]any{"plaintext": b64([]byte("x"))})
		requireAWSError(t, err, http.StatusNotFound, "NotFoundException")
	}
	resp, err := c.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+id+" /policy")
	if resp != nil {
		resp.Body.Close()
	}
	requireAWSError(t, err, http.StatusNotFound, "NotFoundException")

	// The AWS endpoint takes references exactly too.
	for op, body := range map[string]map[string]any{
		"DisableKey":   {"KeyId": id + " "},
		"PutKeyPolicy": {"KeyId": " " + id, "Policy": newPolicy, "BypassPolicyLockoutSafetyCheck": true},
		"Encrypt":      {"KeyId": alias + " ", "Plaintext": b64([]byte("x"))},
		"ReEncrypt":    {"CiphertextBlob": b64([]byte("x")), "DestinationKeyId": id + " "},
		"CreateAlias":  {"AliasName": unique("alias/p"), "TargetKeyId": " " + id},
		"DeleteAlias":  {"AliasName": alias + " "},
	} {
		status, out := awsRaw(t, op, body)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", op, out)
		require.Equal(t, "NotFoundException", out["__type"], "%s: %v", op, out)
	}

	// Nothing reached the key.
	k := read(t, "kms/keys/"+id).Data
	require.Equal(t, "Enabled", k["key_state"])
	require.Empty(t, k["description"])
	require.Equal(t, policy, read(t, "kms/keys/"+id+"/policy").Data["policy"])
	require.Equal(t, id, read(t, "kms/aliases/"+alias).Data["target_key_id"])
}

// Issue 21 item 15: a Vault ACL that keeps alias/prod-* names from a user
// holds on every way to name an alias: the alias paths (the short form is
// refused by the plugin, the full form by the ACL), CreateKey's alias field
// (denied_parameters) and the AWS endpoint (denied_parameters on AliasName).
// This is the README's example policy, verbatim.
func TestACLKeepsProductionAliasNames(t *testing.T) {
	ctx := t.Context()
	c := aclUser(t, readmePolicy(t, "# kms-no-prod-aliases"))
	target := write(t, "kms/keys", nil).Data["key_id"].(string)
	own, err := c.Logical().Write("kms/keys", map[string]any{"alias": unique("alias/dev-orders")})
	require.NoError(t, err, "the policy allows other alias names")
	mine := own.Data["key_id"].(string)
	_, err = c.Logical().Write("kms/aliases/"+unique("alias/dev-more"), map[string]any{"target_key_id": mine})
	require.NoError(t, err)

	prod := unique("prod-orders")
	// The full name on the alias path: Vault's ACL refuses it.
	_, err = c.Logical().Write("kms/aliases/alias/"+prod, map[string]any{"target_key_id": mine})
	requireACLDenied(t, err)
	// The short form: the plugin refuses it (it named alias/prod-orders).
	_, err = c.Logical().Write("kms/aliases/"+prod, map[string]any{"target_key_id": mine})
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	// CreateKey's alias field: denied_parameters refuses the full name, the
	// plugin the short form.
	_, err = c.Logical().Write("kms/keys", map[string]any{"alias": "alias/" + prod})
	requireACLDenied(t, err)
	_, err = c.Logical().Write("kms/keys", map[string]any{"alias": prod})
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	// The AWS endpoint: denied_parameters on AliasName.
	asUser := awsClient("kms", c.Token())
	_, err = asUser.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/" + prod), TargetKeyId: aws.String(mine)})
	require.Error(t, err)
	require.Contains(t, err.Error(), "403")
	_, err = asUser.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(prod), TargetKeyId: aws.String(mine)})
	requireErrorCode(t, err, "ValidationException")
	_, err = asUser.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err, "the AWS endpoint stays usable")

	// No production alias exists; root can still make one, and the user
	// can then neither repoint nor delete it, by either form.
	readErr(t, "kms/aliases/alias/"+prod, http.StatusNotFound, "NotFoundException")
	write(t, "kms/aliases/alias/"+prod, map[string]any{"target_key_id": target})
	_, err = c.Logical().JSONMergePatch(ctx, "kms/aliases/alias/"+prod, map[string]any{"target_key_id": mine})
	requireACLDenied(t, err)
	_, err = c.Logical().JSONMergePatch(ctx, "kms/aliases/"+prod, map[string]any{"target_key_id": mine})
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	_, err = c.Logical().Delete("kms/aliases/" + prod)
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	// Reads too: a short-form read would show where alias/prod-* points
	// to a user whom the ACL refuses that read.
	resp, err := c.Logical().ReadRawWithContext(ctx, "kms/aliases/alias/"+prod)
	if resp != nil {
		resp.Body.Close()
	}
	requireACLDenied(t, err)
	resp, err = c.Logical().ReadRawWithContext(ctx, "kms/aliases/"+prod)
	if resp != nil {
		resp.Body.Close()
	}
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
	_, err = asUser.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/" + prod)})
	require.Error(t, err)
	require.Equal(t, target, read(t, "kms/aliases/alias/"+prod).Data["target_key_id"])
}

// readmePolicy is the README's ACL policy whose fenced block starts with
// the comment line first: the test runs the documented text itself.
func readmePolicy(t *testing.T, first string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), "```hcl\n"+first+"\n")
	require.True(t, ok, "README has no hcl block starting %q", first)
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	return block
}

// The README's allowed_parameters example: CreateKey may name only
// alias/team-a-* aliases; its other fields stay allowed.
func TestACLAllowsOnlyTeamAliasNames(t *testing.T) {
	c := aclUser(t, readmePolicy(t, "# kms-team-a-aliases"))
	_, err := c.Logical().Write("kms/keys", map[string]any{"alias": unique("alias/team-a-orders"), "description": "ok"})
	require.NoError(t, err)
	_, err = c.Logical().Write("kms/keys", map[string]any{"description": "no alias"})
	require.NoError(t, err)
	_, err = c.Logical().Write("kms/keys", map[string]any{"alias": unique("alias/prod-orders")})
	requireACLDenied(t, err)
	_, err = c.Logical().Write("kms/keys", map[string]any{"alias": unique("team-a-orders")})
	requireACLDenied(t, err)
}
