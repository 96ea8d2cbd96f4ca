package kms

import (
	"encoding/base64"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// TestDescribeKeyGrantTokens: DescribeKey (keys/<key>) checks its
// grant_tokens like every other operation, so a forged token is refused
// rather than ignored.
func TestDescribeKeyGrantTokens(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	grant := tb.ok(logical.UpdateOperation, "keys/"+id+"/grants",
		map[string]any{"grantee_principal": "entity:bob", "operations": []string{"DescribeKey"}})
	token := grant["grant_token"].(string)
	require.Equal(t, id, tb.ok(logical.ReadOperation, "keys/"+id, map[string]any{"grant_tokens": []string{token}})["key_id"])
	forged := base64.RawURLEncoding.EncodeToString([]byte("v1." + id + "." + grant["grant_id"].(string) + ".00"))
	tb.fails(kmserr.InvalidGrantToken, logical.ReadOperation, "keys/"+id, map[string]any{"grant_tokens": []string{forged}})
	tb.awsFails(kmserr.InvalidGrantToken, "", "DescribeKey", map[string]any{"KeyId": id, "GrantTokens": []string{"garbage"}})
	require.Equal(t, id, tb.aws("", "DescribeKey", map[string]any{"KeyId": id, "GrantTokens": []string{token}})["KeyMetadata"].(map[string]any)["KeyId"])
}

// TestListKeyPoliciesPages: ListKeyPolicies honours Limit and Marker
// (limit/after on the Vault path): a marker past the one policy gives an
// empty page, a bad limit is a ValidationException.
func TestListKeyPoliciesPages(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	out := tb.aws("", "ListKeyPolicies", map[string]any{"KeyId": id, "Limit": 1})
	require.Equal(t, []any{"default"}, out["PolicyNames"])
	require.Equal(t, false, out["Truncated"])
	out = tb.aws("", "ListKeyPolicies", map[string]any{"KeyId": id, "Marker": "default"})
	require.Equal(t, []any{}, out["PolicyNames"])
	tb.awsFails(kmserr.Validation, "", "ListKeyPolicies", map[string]any{"KeyId": id, "Limit": 0})
	tb.awsFails(kmserr.Validation, "", "ListKeyPolicies", map[string]any{"KeyId": id, "Limit": 1001})
	tb.fails(kmserr.Validation, logical.ListOperation, "keys/"+id+"/policies", map[string]any{"limit": 5000})
	resp := tb.ok(logical.ListOperation, "keys/"+id+"/policies", map[string]any{"after": "default"})
	require.Empty(t, resp["keys"])
}
