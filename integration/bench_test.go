package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/bench"
)

// TestBenchHarnessSmoke runs `make bench`'s harness for about a second
// against the test Vault: the floor plugin builds and mounts, every row's
// requests succeed on the plugin, the floor and Transit, and the table
// renders. It asserts no timing.
func TestBenchHarnessSmoke(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", filepath.Join(dev.pluginDir, "floor-plugin"), "./cmd/floor-plugin")
	build.Dir = filepath.Dir(filepath.Dir(self))
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sha, err := fileSHA256(filepath.Join(dev.pluginDir, "floor-plugin"))
	require.NoError(t, err)
	sys := dev.client.Sys()
	require.NoError(t, sys.RegisterPlugin(&api.RegisterPluginInput{Name: "floor-plugin", Type: api.PluginTypeSecrets, Command: "floor-plugin", SHA256: sha}))
	require.NoError(t, sys.Mount("bench-floor", &api.MountInput{Type: "floor-plugin"}))
	require.NoError(t, sys.Mount("bench-transit", &api.MountInput{Type: "transit"}))
	require.NoError(t, sys.Mount("bench-kms", &api.MountInput{Type: pluginName,
		Config: kmsMountConfig()}))

	ctx := context.Background()
	cl := bench.NewClient("http://"+dev.addr, dev.token, 2)
	m := bench.Mounts{KMS: "bench-kms", Transit: "bench-transit", Floor: "bench-floor"}
	rows, err := cl.Rows(ctx, m)
	require.NoError(t, err)
	var quick []*bench.Row
	for _, r := range rows {
		if r.Before == nil && !strings.Contains(r.Name, "RSA_2048, no pool") { // the slow RSA generation rows
			quick = append(quick, r)
		}
	}
	require.Greater(t, len(quick), 15)
	var log strings.Builder
	res, err := cl.Measure(ctx, m, quick, []int{1, 2}, bench.Load{Duration: 15 * time.Millisecond}, &log)
	require.NoError(t, err)
	t.Log("\n" + log.String())
	for _, r := range res {
		require.Zero(t, r.KMS.Errors, "%s: %s", r.Row.Name, r.KMS.FirstErr)
		require.Zero(t, r.Floor.Errors, "%s floor: %s", r.Row.Name, r.Floor.FirstErr)
		require.Zero(t, r.Transit.Errors, "%s Transit: %s", r.Row.Name, r.Transit.FirstErr)
		require.Positive(t, r.KMS.Ops, r.Row.Name)
		require.True(t, r.HasFloor)
		require.Positive(t, r.Floor.Ops, r.Row.Name)
	}
	table := bench.Table(res)
	require.Contains(t, table, "| batch(100) sign RSA_2048 PSS | 2 |")
	require.Contains(t, table, "| AWS endpoint Encrypt 1 KiB | 1 |")
}
