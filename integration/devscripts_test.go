package integration

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
	"github.com/stretchr/testify/require"
)

// `make dev` and `make proxy` as a new user runs them (scripts/dev.sh and
// scripts/proxy.sh), in a directory and on ports of the test's own: the
// dev Vault serves the AWS endpoint with the mount settings the docs
// promise, holds the SoftHSM2 connection cluster-softhsmdevtoken on which
// a custom key store connects, and the proxy starts with a client's token
// that may call nothing but kms/aws, as docs/CLIENTS.md runs it.
func TestMakeDevAndProxyScripts(t *testing.T) {
	if hsmtest.Module() == "" {
		hsmtest.New(t) // fails under CI, says why elsewhere
	}
	state := t.TempDir()
	addr, err := freeAddr()
	require.NoError(t, err)
	proxyAddr, err := freeAddr()
	require.NoError(t, err)
	env := append(os.Environ(), "KMS_DEV_DIR="+state, "KMS_PLUGIN_DIR="+dev.pluginDir,
		"VAULT_BINARY="+dev.bin, "PLUGIN_VERSION="+pluginVersion(), "VAULT_DEV_ADDR="+addr,
		"VAULT_ADDR=http://"+addr, "PROXY_ADDR="+proxyAddr)

	out := runScript(t, "dev.sh", env, filepath.Join(state, "vault.pid"))
	require.Contains(t, out, "HSM connection cluster-softhsmdevtoken")
	c, err := api.NewClient(&api.Config{Address: "http://" + addr})
	require.NoError(t, err)
	c.SetToken("root")

	tune, err := c.Sys().MountConfig("kms")
	require.NoError(t, err)
	require.Equal(t, []string{"X-Amz-Target"}, tune.PassthroughRequestHeaders)
	require.ElementsMatch(t, []string{"X-Kms-Audit", "x-amzn-RequestId"}, tune.AllowedResponseHeaders)
	require.True(t, tune.TrimRequestTrailingSlashes)

	conn, err := c.Logical().Read("kms/config/hsm/cluster-softhsmdevtoken")
	require.NoError(t, err)
	require.NotNil(t, conn, "make dev wrote no HSM connection")
	require.Equal(t, "kms-dev", conn.Data["token_label"])
	store, err := c.Logical().Write("kms/custom-key-stores", map[string]any{"custom_key_store_name": "dev",
		"cloud_hsm_cluster_id": "cluster-softhsmdevtoken", "key_store_password": "kms-dev-pin"})
	require.NoError(t, err)
	id := store.Data["custom_key_store_id"].(string)
	_, err = c.Logical().Write("kms/custom-key-stores/"+id+"/connect", nil)
	require.NoError(t, err)
	read, err := c.Logical().Read("kms/custom-key-stores/" + id)
	require.NoError(t, err)
	require.Equal(t, "CONNECTED", read.Data["connection_state"], "%v", read.Data)

	// A client's token as docs/CLIENTS.md has it: kms/aws and nothing else.
	require.NoError(t, c.Sys().PutPolicy("kms-aws", `path "kms/aws" { capabilities = ["update"] }`))
	secret, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"kms-aws"}})
	require.NoError(t, err)
	runScript(t, "proxy.sh", append(env, "VAULT_TOKEN="+secret.Auth.ClientToken), filepath.Join(state, "proxy.pid"))

	// An AWS client without a Vault token, through the proxy.
	req, err := http.NewRequest(http.MethodPost, "http://"+proxyAddr+"/v1/kms/aws/", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("x-amzn-RequestId"))
}

// runScript runs scripts/<name> and stops the process it leaves running
// (its pid file) when the test ends; it returns the script's output.
func runScript(t *testing.T, name string, env []string, pidFile string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command("bash", filepath.Join(filepath.Dir(filepath.Dir(self)), "scripts", name))
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Cleanup(func() {
		raw, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || syscall.Kill(pid, syscall.SIGTERM) != nil {
			return
		}
		// Wait for it to exit: it writes into the test's directory, which
		// is removed next.
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	require.NoError(t, err, "scripts/%s:\n%s", name, out.String())
	return out.String()
}
