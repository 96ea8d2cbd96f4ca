package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startOwnDev starts a dev Vault of the test's own, with the plugin at
// kms/, so that a test may break it without disturbing the shared one.
func startOwnDev(t *testing.T) *vaultServer {
	t.Helper()
	dir := t.TempDir()
	pluginDir := filepath.Join(dir, "plugins")
	require.NoError(t, os.MkdirAll(pluginDir, 0o755))
	copyFile(t, filepath.Join(dev.pluginDir, pluginName), filepath.Join(pluginDir, pluginName))
	v, err := startVault(dev.bin, pluginDir, filepath.Join(dir, "vault"), true)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			v.dumpLog(os.Stderr)
		}
		v.stopAndReap()
	})
	require.NoError(t, v.registerAndMount("kms"))
	return v
}

// The plugin process dies (kill -9) while clients encrypt and decrypt:
// only the requests in flight fail, Vault starts the plugin again, and no
// key or ciphertext is lost.
func TestPluginKilledUnderLoad(t *testing.T) {
	v := startOwnDev(t)
	keys := []string{cwrite(t, v.client, "kms/keys", map[string]any{"alias": "alias/load"})["key_id"].(string),
		cwrite(t, v.client, "kms/keys", nil)["key_id"].(string)}
	before := dump(t, v.client, keys)
	pids := v.pluginPIDs()
	require.Len(t, pids, 1)

	const workers = 4
	load := startLoad(t, v.addr, v.token, keys, workers, 5*time.Millisecond)
	time.Sleep(2 * time.Second)
	killedAt := time.Now()
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	deadline := time.Now().Add(30 * time.Second)
	var backAt time.Time
	for time.Now().Before(deadline) {
		if now := v.pluginPIDs(); len(now) == 1 && now[0] != pids[0] {
			backAt = time.Now()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.False(t, backAt.IsZero(), "Vault started the plugin again")
	time.Sleep(2 * time.Second)
	load.halt()

	now := v.pluginPIDs()
	require.Len(t, now, 1, "Vault runs the plugin again")
	require.NotEqual(t, pids[0], now[0])
	recovered, failed, kinds := load.outage(killedAt)
	t.Logf("plugin kill -9: %d of %d requests failed (%v); served again %.2f s after the kill", failed, len(load.all), kinds, recovered.Seconds())
	require.Positive(t, recovered)
	// Only requests in flight while the plugin was down fail: none that
	// started once the new process had had a moment to be dispensed.
	for _, r := range load.all {
		if r.err != nil {
			require.Less(t, r.start, backAt.Add(time.Second), "a request started %.1f s after the plugin came back failed: %v",
				r.start.Sub(backAt).Seconds(), r.err)
		}
	}
	t.Logf("the new plugin process was seen %.2f s after the kill", backAt.Sub(killedAt).Seconds())
	for kind := range kinds {
		require.Equal(t, "HTTP 500", kind, "a dead plugin is a server fault")
	}

	after := dump(t, v.client, keys)
	for _, d := range []map[string]any{before, after} {
		for _, id := range keys {
			delete(d, id+" last usage")
			delete(d[id+" describe"].(map[string]any), "last_used_date")
			delete(d[id+" describe"].(map[string]any), "last_used_operation")
		}
	}
	require.Equal(t, before, after)
	for _, s := range load.blobs {
		require.Equal(t, s.plaintext, cwrite(t, v.client, "kms/decrypt", map[string]any{"ciphertext_blob": s.blob})["plaintext"])
	}
	t.Logf("%d ciphertexts made under load decrypt", len(load.blobs))
}
