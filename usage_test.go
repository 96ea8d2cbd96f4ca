package kms

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

func standby(tb *testBackend) {
	conf := logical.TestBackendConfig()
	conf.System = &logical.StaticSystemView{ReplicationStateVal: consts.ReplicationPerformanceStandby}
	require.NoError(tb.t, tb.Setup(context.Background(), conf))
}

func active(tb *testBackend) {
	require.NoError(tb.t, tb.Setup(context.Background(), logical.TestBackendConfig()))
}

// On a performance standby (read-only storage) a use whose record is due
// to be persisted is refused with ErrReadOnly before any work, so Vault
// forwards the request to the active node; other uses are served locally.
func TestUsageOnReadOnlyStandby(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	fs := withFaults(tb)
	fs.readOnly = true
	standby(tb)
	tb.advance(keystore.UsagePersistEvery)

	_, err := tb.do(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	require.ErrorIs(t, err, logical.ErrReadOnly, "forwarded to the active node")
	// Within the minute: served here.
	tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})
	tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})

	tb.advance(keystore.UsagePersistEvery)
	req := &logical.Request{Operation: logical.UpdateOperation, Path: "aws", Storage: tb.storage,
		Headers: map[string][]string{"X-Amz-Target": {"TrentService.Encrypt"}},
		Data:    map[string]any{"KeyId": id, "Plaintext": b64s("x")}}
	_, err = tb.HandleRequest(context.Background(), req)
	require.ErrorIs(t, err, logical.ErrReadOnly, "the AWS endpoint forwards too")

	// The active node: other storage failures do not fail the operation.
	active(tb)
	fs.readOnly = false
	fs.prefix = keystore.UsagePrefix
	tb.advance(time.Hour)
	tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
}
