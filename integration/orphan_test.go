package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pluginChildren lists the pids of plugin processes whose parent is pid.
func pluginChildren(t *testing.T, parent int) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if _, ppid, _, ok := procStat(pid); !ok || ppid != parent {
			continue
		}
		cmd, err := os.ReadFile(d + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte(pluginName)) {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether a process runs; a zombie (exited, not yet reaped
// by whoever inherited it) does not.
func alive(pid int) bool {
	_, _, state, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// Issue 18: after kill -9 of Vault its plugin process kept running under
// init. The plugin notices that its parent is gone and exits.
func TestPluginExitsWhenVaultIsKilled(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to find the plugin process")
	}
	v, err := startVault(dev.bin, dev.pluginDir, t.TempDir(), true)
	require.NoError(t, err)
	t.Cleanup(v.stop)
	require.NoError(t, v.registerAndMount("kms"))
	_, err = v.client.Logical().Write("kms/keys", nil)
	require.NoError(t, err)

	vaultPID := v.cmd.Process.Pid
	plugins := pluginChildren(t, vaultPID)
	require.Len(t, plugins, 1, "one plugin process, child of Vault %d", vaultPID)
	pid := plugins[0]
	t.Cleanup(func() {
		if alive(pid) { // the test failed: do not leave the orphan behind
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	require.NoError(t, v.cmd.Process.Kill())
	_, _ = v.cmd.Process.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_, ppid, state, _ := procStat(pid)
			t.Fatalf("plugin %d still running 15s after Vault was killed (ppid %d, state %c)", pid, ppid, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
