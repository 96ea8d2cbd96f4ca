package kms

import (
	"fmt"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/stretchr/testify/require"
)

// A key has at most maxAliasesPerKey aliases (AWS's quota, 50), whether
// an alias is created for it or moved to it: its aliases are values of
// kms:ResourceAliases, which every request to the key reads and matches
// against its policy's patterns, so an owner with 100,000 aliases could
// make each request cost seconds. Moving an alias to the key it already
// names is no new alias.
func TestAliasesPerKeyAreLimited(t *testing.T) {
	tb := newTestBackend(t)
	full, other := tb.createKey(nil), tb.createKey(nil)
	for i := range keystore.MaxAliasesPerKey {
		tb.ok(logical.CreateOperation, fmt.Sprintf("aliases/alias/a%02d", i), map[string]any{"target_key_id": full})
	}
	ke := tb.fails("LimitExceededException", logical.CreateOperation, "aliases/alias/one-more", map[string]any{"target_key_id": full})
	require.Contains(t, ke.Msg, fmt.Sprint(keystore.MaxAliasesPerKey))
	tb.awsFails("LimitExceededException", "", "CreateAlias", map[string]any{"AliasName": "alias/one-more", "TargetKeyId": full})

	tb.ok(logical.CreateOperation, "aliases/alias/elsewhere", map[string]any{"target_key_id": other})
	// UpdateAlias is a patch.
	tb.fails("LimitExceededException", logical.PatchOperation, "aliases/alias/elsewhere", map[string]any{"target_key_id": full})
	tb.awsFails("LimitExceededException", "", "UpdateAlias", map[string]any{"AliasName": "alias/elsewhere", "TargetKeyId": full})
	tb.ok(logical.PatchOperation, "aliases/alias/a00", map[string]any{"target_key_id": full})

	tb.ok(logical.DeleteOperation, "aliases/alias/a00", nil)
	tb.ok(logical.PatchOperation, "aliases/alias/elsewhere", map[string]any{"target_key_id": full})
}
