package kms

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

// Encrypt with a key in a SoftHSM2 token beside the same request with a
// software key: the cost of the PKCS#11 round trip (SoftHSM runs in the
// process, so a network HSM adds its latency on top).
func BenchmarkEncryptHSMKey(b *testing.B) {
	h := newHSMKeyEnv(b, 1)
	h.tb.Logger().SetLevel(hclog.Error) // authorization decisions log at debug
	pt := b64s("a 32-byte message for benchmarks")
	for name, id := range map[string]string{"software": h.tb.createKey(nil), "softhsm": h.key(nil)} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				h.tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
			}
		})
	}
}
