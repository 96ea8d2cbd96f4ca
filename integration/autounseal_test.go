package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// Vault's own awskms seal (the AWS SDK for Go v1) auto-unseals a second
// Vault server with a key of the plugin, reached through Vault Proxy as an
// identity whose Vault ACL allows only kms/aws and whose key policy allows
// only what the seal calls: DescribeKey when the server starts, Encrypt at
// init (and for seal health checks), Decrypt to unseal.
func TestAutoUnsealWithAPluginKey(t *testing.T) {
	start := time.Now()
	token, arn := sealIdentity(t)
	policy := awsPolicy(
		`{"Sid":"admin","Effect":"Allow","Principal":{"Vault":"no_entity"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"seal","Effect":"Allow","Principal":{"AWS":"`+arn+`"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`)
	alias := "alias/" + unique("seal")
	keyID := write(t, "kms/keys", map[string]any{"policy": policy, "alias": alias, "description": "auto-unseal"}).Data["key_id"].(string)
	proxy := startProxy(t, token)

	requireSealOnly(t, proxy, alias)

	dir := t.TempDir()
	addr, err := freeAddr()
	require.NoError(t, err)
	cfg := fmt.Sprintf(`disable_mlock = true
storage "file" {
  path = %q
}
listener "tcp" {
  address     = %q
  tls_disable = true
}
seal "awskms" {
  region     = "us-east-1"
  access_key = "unused"
  secret_key = "unused"
  kms_key_id = %q
  endpoint   = "http://%s/v1/kms/aws"
}
`, filepath.Join(dir, "data"), addr, alias, proxy)
	v := &vaultServer{bin: dev.bin, dir: dir, addr: addr}
	t.Cleanup(v.stop)
	restart := func() {
		t.Helper()
		v.stop()
		require.NoError(t, v.launch(cfg, "server"))
		v.client.SetToken(v.token)
	}
	require.NoError(t, v.launch(cfg, "server"))

	// operator init: with an auto-unseal, recovery keys, and unsealed at once.
	initOut := mustCLI(t, v, "operator", "init", "-recovery-shares=1", "-recovery-threshold=1", "-format=json")
	var init struct {
		RootToken string `json:"root_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(initOut), &init))
	v.token = init.RootToken
	v.client.SetToken(v.token)
	waitSealed(t, v, false, 30*time.Second)
	st, err := v.client.Sys().SealStatus()
	require.NoError(t, err)
	require.Equal(t, "awskms", st.Type)

	// A restart unseals by itself.
	restart()
	waitSealed(t, v, false, 30*time.Second)
	_, err = v.client.Sys().ListMounts()
	require.NoError(t, err, "the auto-unsealed server serves requests")

	// With the key disabled, a restart stays sealed: Decrypt is refused.
	write(t, "kms/keys/"+keyID+"/disable", nil)
	restart()
	waitLog(t, v, "DisabledException", 30*time.Second)
	st, err = v.client.Sys().SealStatus()
	require.NoError(t, err)
	require.True(t, st.Sealed, "a disabled key leaves the server sealed")

	// Enabled again, the key unseals the waiting server: Vault retries the
	// unseal every 5 seconds.
	write(t, "kms/keys/"+keyID+"/enable", nil)
	waitSealed(t, v, false, 30*time.Second)
	_, err = v.client.Sys().ListMounts()
	require.NoError(t, err)

	t.Logf("auto-unseal test took %s", time.Since(start).Round(time.Second))
}

// requireSealOnly checks that the identity behind proxy can do nothing
// with the key beyond what the seal needs, and nothing outside kms/aws.
func requireSealOnly(t *testing.T, proxy, key string) {
	t.Helper()
	status, out := awsThrough(t, proxy, "GenerateDataKey", map[string]any{"KeyId": key, "KeySpec": "AES_256"})
	require.Equal(t, http.StatusBadRequest, status, "%v", out)
	require.Equal(t, "AccessDeniedException", out["__type"])
	resp, err := http.Get("http://" + proxy + "/v1/kms/keys?list=true")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the ACL allows kms/aws only")
}

// sealIdentity logs a userpass user in whose Vault ACL allows kms/aws and
// nothing else of the mount; it returns the token and the IAM user ARN
// that names the user's entity in a key policy.
func sealIdentity(t *testing.T) (token, arn string) {
	t.Helper()
	root := dev.client
	path := unique("userpass")
	require.NoError(t, root.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: "userpass"}))
	t.Cleanup(func() { _ = root.Sys().DisableAuth(path) })
	require.NoError(t, root.Sys().PutPolicy("kms-aws-only", `path "kms/aws" { capabilities = ["update"] }`))
	write(t, "auth/"+path+"/users/seal", map[string]any{"password": "pw-seal", "token_policies": "kms-aws-only"})
	login, err := root.Logical().Write("auth/"+path+"/login/seal", map[string]any{"password": "pw-seal"})
	require.NoError(t, err)
	name := unique("vault-seal")
	write(t, "identity/entity/id/"+login.Auth.EntityID, map[string]any{"name": name})
	return login.Auth.ClientToken, "arn:aws:iam::000000000000:user/" + name
}

// awsThrough sends one AWS JSON request through a Vault Proxy.
func awsThrough(t *testing.T, proxy, op string, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+proxy+"/v1/kms/aws", strings.NewReader(string(raw)))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func waitSealed(t *testing.T, v *vaultServer, sealed bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := v.client.Sys().SealStatus()
		if err == nil && st.Initialized && st.Sealed == sealed {
			return
		}
		if time.Now().After(deadline) {
			v.dumpLog(os.Stderr)
			t.Fatalf("the server did not become sealed=%v within %s: %+v %v", sealed, within, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLog waits until the server's log contains s.
func waitLog(t *testing.T, v *vaultServer, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(filepath.Join(v.dir, "vault.log"))
		require.NoError(t, err)
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			v.dumpLog(os.Stderr)
			t.Fatalf("the server log does not show %q within %s", s, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
