package kms

import (
	"context"
	"fmt"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// BenchmarkEncryptWithManyGrants: a key whose policy admits only its
// administrator, with 0 or 50,000 grants (AWS's limit), one of them for
// bob. bob's encrypt and the refusal of eve (no grant) are index lookups,
// so their cost should not grow with the number of grants.
func BenchmarkEncryptWithManyGrants(b *testing.B) {
	const doc = `{"Version":"2012-10-17","Statement":[{"Sid":"admin","Effect":"Allow","Principal":{"Vault":"entity:admin"},"Action":"kms:*","Resource":"*"}]}`
	for _, n := range []int{0, access.MaxGrantsPerKey} {
		tb := newTestBackend(b)
		tb.Logger().SetLevel(hclog.Error) // decisions log at debug
		withIdentities(tb)
		resp, err := tb.as("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})
		if err != nil {
			b.Fatal(err)
		}
		id := resp.Data["key_id"].(string)
		x, err := tb.grants(context.Background(), tb.storage, id)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			// Straight into the index: the lookup is what is measured.
			x.Add(&grantEntry{GrantID: fmt.Sprintf("g%d", i), KeyID: id, GranteePrincipal: fmt.Sprintf("entity:user%d", i),
				Operations: []string{keyspec.OpEncrypt, keyspec.OpDecrypt}})
		}
		x.Add(&grantEntry{GrantID: "bob", KeyID: id, GranteePrincipal: "entity:bob", Operations: []string{keyspec.OpEncrypt}})
		data := map[string]any{"plaintext": b64s("x")}
		b.Run(fmt.Sprintf("grants=%d/grantee", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := tb.as("bob", logical.UpdateOperation, "encrypt/"+id, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("grants=%d/no-grant", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := tb.as("eve", logical.UpdateOperation, "encrypt/"+id, data); err == nil {
					b.Fatal("eve was admitted")
				}
			}
		})
	}
}
