package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// What an operator of a raft cluster meets around the plugin (the README's
// cluster section): a snapshot restore under load, plugin reloads, and
// moving the mount. The figures are logged; the assertions are the
// recipes the README gives.
func TestClusterOperatorNotes(t *testing.T) {
	c := startCluster(t, 3)
	t.Run("snapshot restore under load", func(t *testing.T) { snapshotRestoreUnderLoad(t, c) })
	t.Run("snapshot restore with the CLI", func(t *testing.T) { snapshotRestoreCLI(t, c) })
	t.Run("plugin reload", func(t *testing.T) { pluginReload(t, c) })
	t.Run("secrets move", func(t *testing.T) { secretsMove(t, c) })
}

// snapshotRestoreUnderLoad restores a snapshot on the active node while 4
// clients encrypt and decrypt through a standby. Vault restarts the plugin
// after a restore, so a key created after the snapshot, cached before the
// restore, is gone afterwards: no cache of the plugin outlives it.
func snapshotRestoreUnderLoad(t *testing.T, c *vaultCluster) {
	active := c.active()
	ac := newClient(t, active.addr, c.token, true)
	before := cwrite(t, ac, "kms/keys", map[string]any{"description": "in the snapshot"})["key_id"].(string)
	var snap bytes.Buffer
	require.NoError(t, active.client.Sys().RaftSnapshot(&snap))
	after := cwrite(t, ac, "kms/keys", map[string]any{"description": "after the snapshot"})["key_id"].(string)
	require.Equal(t, "after the snapshot", cread(t, ac, "kms/keys/"+after)["description"], "cached now")
	pids := active.pluginPIDs()
	require.NotEmpty(t, pids)

	standby := c.standbys()[0]
	loads := map[string]*clientLoad{
		"the active node": startLoad(t, active.addr, c.token, []string{before}, 2, 20*time.Millisecond),
		"a standby":       startLoad(t, standby.addr, c.token, []string{before}, 2, 20*time.Millisecond),
	}
	time.Sleep(time.Second)
	t0 := time.Now()
	require.NoError(t, active.client.Sys().RaftSnapshotRestore(bytes.NewReader(snap.Bytes()), false))
	t.Logf("snapshot restore on the active node: the API call returned after %s", time.Since(t0).Round(time.Millisecond))
	// The restore goes on after the call returns (Vault seals the mounts,
	// restores, and sets them up again): wait until the key made after the
	// snapshot is gone and both nodes serve an encrypt again, then let the
	// loads run on a little.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := ac.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+after)
		if resp != nil {
			resp.Body.Close()
		}
		if statusOf(err) == http.StatusNotFound {
			break
		}
		time.Sleep(time.Second)
	}
	for _, addr := range []string{active.addr, standby.addr} {
		pc := newClient(t, addr, c.token, true)
		for time.Now().Before(deadline) {
			if _, err := strictWrite(pc, "kms/encrypt/"+before, map[string]any{"plaintext": b64([]byte("probe"))}); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
	}
	time.Sleep(2 * time.Second)
	for name, l := range loads {
		l.halt()
		recovered, failed, kinds := l.outage(t0)
		t.Logf("2 clients through %s: %s; served again %s after the restore began; %d of %d requests failed %v",
			name, slowest(l, t0), recovered.Round(10*time.Millisecond), failed, len(l.all), kinds)
		require.Positive(t, recovered, "%s serves again after the restore", name)
	}

	require.Equal(t, "in the snapshot", cread(t, ac, "kms/keys/"+before)["description"])
	_, err := ac.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+after)
	requireAWSError(t, err, http.StatusNotFound, "NotFoundException")
	require.NotEqual(t, pids, c.active().pluginPIDs(), "Vault restarted the plugin")
	for _, s := range loads["a standby"].blobs[:min(len(loads["a standby"].blobs), 20)] {
		require.Equal(t, s.plaintext, cwrite(t, ac, "kms/decrypt", map[string]any{"ciphertext_blob": s.blob})["plaintext"])
	}
}

// snapshotRestoreCLI restores with `vault operator raft snapshot restore`,
// first through a standby with VAULT_DISABLE_REDIRECTS=true (the outcome
// is logged: it was reported to exit 0 and restore nothing), then on the
// active node, which the README prescribes.
func snapshotRestoreCLI(t *testing.T, c *vaultCluster) {
	active := c.active()
	ac := newClient(t, active.addr, c.token, true)
	file := filepath.Join(t.TempDir(), "raft.snap")
	mustCLI(t, active.vaultServer, "operator", "raft", "snapshot", "save", file)
	after := cwrite(t, ac, "kms/keys", map[string]any{"description": "after the snapshot"})["key_id"].(string)
	gone := func() bool {
		resp, err := ac.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+after)
		if resp != nil {
			resp.Body.Close()
		}
		return statusOf(err) == http.StatusNotFound
	}

	standby := c.standbys()[0]
	cmd := exec.Command(standby.bin, "operator", "raft", "snapshot", "restore", file)
	cmd.Env = append(standby.env(), "VAULT_DISABLE_REDIRECTS=true")
	out, err := cmd.CombinedOutput()
	time.Sleep(5 * time.Second)
	c.active()
	t.Logf("snapshot restore through a standby with VAULT_DISABLE_REDIRECTS=true: err=%v output=%q; 5 s later the key created after the snapshot is gone: %v",
		err, strings.TrimSpace(string(out)), gone())

	mustCLI(t, c.active().vaultServer, "operator", "raft", "snapshot", "restore", file)
	deadline := time.Now().Add(30 * time.Second)
	for !gone() {
		require.True(t, time.Now().Before(deadline), "the restore on the active node did not take effect")
		time.Sleep(200 * time.Millisecond)
	}
}

// pluginReload: sys/plugins/reload/backend with mounts restarts the
// plugin; the CLI's `vault plugin reload -mounts=` result is logged (the
// 1.21 CLI was reported broken).
func pluginReload(t *testing.T, c *vaultCluster) {
	active := c.active()
	ac := newClient(t, active.addr, c.token, true)
	out, errOut, err := active.cli("plugin", "reload", "-mounts=kms")
	t.Logf("vault plugin reload -mounts=kms: err=%v stdout=%q stderr=%q", err, strings.TrimSpace(out), strings.TrimSpace(errOut))
	reload := func(data map[string]any) []int {
		t.Helper()
		before := active.pluginPIDs()
		_, err := ac.Logical().Write("sys/plugins/reload/backend", data)
		require.NoError(t, err, "reload %v", data)
		deadline := time.Now().Add(30 * time.Second)
		for {
			// The plugin is started again by the next request.
			_, err := ac.Logical().List("kms/keys")
			now := active.pluginPIDs()
			if err == nil && len(now) > 0 && !equalInts(now, before) {
				return now
			}
			require.True(t, time.Now().Before(deadline), "the plugin did not restart after %v: %v -> %v (%v)", data, before, now, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	reload(map[string]any{"mounts": []string{"kms"}})

	// A second mount shares the (multiplexed) plugin process: reloading
	// by plugin name restarts it under both.
	require.NoError(t, ac.Sys().Mount("kms-other", &api.MountInput{Type: pluginName, Config: kmsMountConfig()}))
	other := cwrite(t, ac, "kms-other/keys", nil)["key_id"].(string)
	shared := active.pluginPIDs()
	_, err = ac.Logical().Write("sys/plugins/reload/backend", map[string]any{"mounts": []string{"kms"}})
	require.NoError(t, err)
	clist(t, ac, "kms/keys")
	cread(t, ac, "kms-other/keys/"+other)
	afterMount := active.pluginPIDs()
	now := reload(map[string]any{"plugin": pluginName})
	cread(t, ac, "kms-other/keys/"+other)
	t.Logf("plugin processes with two mounts: %v; after reloading mounts=kms: %v; after reloading plugin=%s: %v",
		shared, afterMount, pluginName, now)
	require.NoError(t, ac.Sys().Unmount("kms-other"))
}

// secretsMove moves the mount and back, timing the CLI; an ACL policy
// naming kms/ does not follow the move.
func secretsMove(t *testing.T, c *vaultCluster) {
	active := c.active()
	ac := newClient(t, active.addr, c.token, true)
	id := cwrite(t, ac, "kms/keys", map[string]any{"description": "moved"})["key_id"].(string)
	require.NoError(t, ac.Sys().PutPolicy("kms-user", `path "kms/*" { capabilities = ["create", "read", "update", "list"] }`))
	tok, err := ac.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"kms-user"}})
	require.NoError(t, err)
	user := newClient(t, active.addr, tok.Auth.ClientToken, true)
	cread(t, user, "kms/keys/"+id)

	move := func(from, to string) time.Duration {
		t0 := time.Now()
		cmd := exec.Command(active.bin, "secrets", "move", from, to)
		cmd.Env = active.env()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return time.Since(t0)
	}
	took := move("kms", "kms-moved")
	require.Equal(t, "moved", cread(t, ac, "kms-moved/keys/"+id)["description"], "the keys move with the mount")
	_, err = user.Logical().Read("kms-moved/keys/" + id)
	require.Equal(t, http.StatusForbidden, statusOf(err), "an ACL naming kms/ does not follow the move: %v", err)
	back := move("kms-moved", "kms")
	cread(t, user, "kms/keys/"+id)
	t.Logf("vault secrets move returned after %s (kms -> kms-moved) and %s (back)", took.Round(10*time.Millisecond), back.Round(10*time.Millisecond))
}

// slowest describes the longest successful request that ended after t0,
// and when the failed requests fell, relative to t0.
func slowest(l *clientLoad, t0 time.Time) string {
	var longest loadResult
	first, last := time.Duration(-1), time.Duration(-1)
	for _, r := range l.all {
		if r.err != nil {
			if first < 0 {
				first = r.start.Sub(t0)
			}
			last = r.end.Sub(t0)
			continue
		}
		if r.end.After(t0) && r.end.Sub(r.start) > longest.end.Sub(longest.start) {
			longest = r
		}
	}
	out := fmt.Sprintf("the longest request took %s (from %s to %s after the restore began)",
		longest.end.Sub(longest.start).Round(10*time.Millisecond), longest.start.Sub(t0).Round(10*time.Millisecond), longest.end.Sub(t0).Round(10*time.Millisecond))
	if first >= 0 {
		out += fmt.Sprintf(", failures from %s to %s", first.Round(10*time.Millisecond), last.Round(10*time.Millisecond))
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
