package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/bench"
	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

// TestBenchHarnessSmoke runs `make bench`'s harness for about a second
// against a Vault of its own whose plugin reaches a SoftHSM2 token, as
// scripts/bench.sh sets it up: the floor plugin builds and mounts, the
// harness creates a custom key store and a key in the token, every row's
// requests (the SoftHSM2 row among them) succeed on the plugin, the floor
// and Transit, and the table renders. It asserts no timing.
func TestBenchHarnessSmoke(t *testing.T) {
	soft := hsmtest.New(t) // before Vault starts: the plugin inherits SOFTHSM2_CONF
	tok := soft.InitToken(t, "kms-bench-smoke")
	v := startOwnDev(t)
	const conn = "cluster-benchsmoketoken"
	cwrite(t, v.client, "kms/config/hsm/"+conn, map[string]any{"module_path": soft.Module, "token_label": tok.Label, "pin": tok.PIN})

	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", filepath.Join(v.pluginDir, "floor-plugin"), "./cmd/floor-plugin")
	build.Dir = filepath.Dir(filepath.Dir(self))
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sha, err := fileSHA256(filepath.Join(v.pluginDir, "floor-plugin"))
	require.NoError(t, err)
	sys := v.client.Sys()
	require.NoError(t, sys.RegisterPlugin(&api.RegisterPluginInput{Name: "floor-plugin", Type: api.PluginTypeSecrets, Command: "floor-plugin", SHA256: sha}))
	require.NoError(t, sys.Mount("bench-floor", &api.MountInput{Type: "floor-plugin"}))
	require.NoError(t, sys.Mount("bench-transit", &api.MountInput{Type: "transit"}))

	ctx := context.Background()
	cl := bench.NewClient("http://"+v.addr, v.token, 2)
	m := bench.Mounts{KMS: "kms", Transit: "bench-transit", Floor: "bench-floor", HSM: bench.HSM{Connection: conn, PIN: tok.PIN}}
	rows, err := cl.Rows(ctx, m)
	require.NoError(t, err)
	store := requireHSMRow(t, v, soft, tok, rows)

	// Run again on the same Vault (the suite on `scripts/bench.sh serve`),
	// with the store disconnected: the harness connects it and uses it.
	cwrite(t, v.client, "kms/custom-key-stores/"+store+"/disconnect", nil)
	rows, err = cl.Rows(ctx, m)
	require.NoError(t, err)
	require.Equal(t, store, requireHSMRow(t, v, soft, tok, rows))
	require.Len(t, clist(t, v.client, "kms/custom-key-stores")["keys"], 1)

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
	require.Contains(t, table, "| encrypt 1 KiB | 1 |")
	require.Contains(t, table, "| "+bench.HSMRowName+" | 2 |")
	require.Contains(t, table, "| batch(100) sign RSA_2048 PSS | 2 |")
	require.Contains(t, table, "| AWS endpoint Encrypt 1 KiB | 1 |")
}

// requireHSMRow checks that the SoftHSM2 row follows the software-key
// encrypt row with the same body and that its key is an object in the
// token, and returns the key's custom key store.
func requireHSMRow(t *testing.T, v *vaultServer, soft *hsmtest.SoftHSM, tok hsmtest.Token, rows []*bench.Row) string {
	t.Helper()
	i := slices.IndexFunc(rows, func(r *bench.Row) bool { return r.Name == bench.HSMRowName })
	require.Positive(t, i, "no %q row", bench.HSMRowName)
	hsmRow, swRow := rows[i], rows[i-1]
	require.Equal(t, "encrypt 1 KiB", swRow.Name)
	require.Equal(t, swRow.KMS.Body, hsmRow.KMS.Body, "the two rows encrypt the same plaintext")
	key := strings.TrimPrefix(hsmRow.KMS.Path, "kms/encrypt/")
	require.NotEqual(t, strings.TrimPrefix(swRow.KMS.Path, "kms/encrypt/"), key)
	desc := cread(t, v.client, "kms/keys/"+key)
	require.Equal(t, "AWS_CLOUDHSM", desc["origin"])
	store, _ := desc["custom_key_store_id"].(string)
	require.NotEmpty(t, store)
	require.NotEmpty(t, hsmtest.Object(soft.ListObjects(t, tok), "kms-"+key+"-v1"), "the key's object is in the token")
	return store
}
