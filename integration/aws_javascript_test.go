package integration

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// TestAWSJavaScriptSDK runs integration/js/sdk.mjs, the README's set-up of
// the AWS SDK for JavaScript v3 (pinned in package-lock.json), against the
// dev Vault.
func TestAWSJavaScriptSDK(t *testing.T) {
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node and npm are needed for the JavaScript SDK test")
		}
		t.Skip("SKIPPING: node and npm are needed for the JavaScript SDK test")
	}
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kms")); err != nil {
		install := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		install.Dir = dir
		out, err := install.CombinedOutput()
		require.NoError(t, err, "npm ci: %s", out)
	}
	out, stderr, err := runSDKScript(node, dir, "kms")
	require.NoError(t, err, "node sdk.mjs: %s%s", out, stderr)

	var got struct {
		ARN                string    `json:"arn"`
		RequestID          string    `json:"requestId"`
		CreationDateIsDate bool      `json:"creationDateIsDate"`
		CreationDate       time.Time `json:"creationDate"`
		Plaintext          string    `json:"plaintext"`
		Ciphertext         string    `json:"ciphertext"`
		Errors             map[string]struct {
			Name      string `json:"name"`
			Status    int    `json:"status"`
			RequestID string `json:"requestId"`
			Typed     bool   `json:"typed"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	require.Regexp(t, `^arn:aws:kms:us-east-1:000000000000:key/`, got.ARN)
	require.True(t, got.CreationDateIsDate)
	require.WithinDuration(t, time.Now(), got.CreationDate, time.Minute)
	require.Equal(t, "hello from js", got.Plaintext)
	require.Equal(t, "NotFoundException", got.Errors["missing"].Name)
	require.Equal(t, 400, got.Errors["missing"].Status)
	require.NotEmpty(t, got.RequestID, "x-amzn-RequestId reaches the SDK")
	require.NotEmpty(t, got.Errors["missing"].RequestID)
	require.NotEqual(t, got.RequestID, got.Errors["missing"].RequestID)
	require.Equal(t, "InvalidCiphertextException", got.Errors["noContext"].Name)
	require.True(t, got.Errors["noContext"].Typed)

	// The JavaScript SDK's ciphertext opens through the Vault-style path.
	dec := write(t, "kms/decrypt", map[string]any{"ciphertext_blob": got.Ciphertext, "encryption_context": map[string]any{"document": "js"}})
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("hello from js")), dec.Data["plaintext"])

	// The same script against a mount without trim_request_trailing_slashes:
	// the SDK posts to ".../aws/", Vault refuses the write to a "directory"
	// before the plugin runs, and the SDK cannot parse Vault's error.
	notrim := unique("kms-notrim")
	cfg := kmsMountConfig()
	cfg.TrimRequestTrailingSlashes = nil
	require.NoError(t, dev.client.Sys().Mount(notrim, &api.MountInput{Type: pluginName, Config: cfg}))
	t.Cleanup(func() { _ = dev.client.Sys().Unmount(notrim) })
	out, stderr, err = runSDKScript(node, dir, notrim)
	require.Error(t, err, "without the tune: %s", out)
	require.Contains(t, string(stderr), "UnknownError")
}

// runSDKScript runs sdk.mjs against the dev Vault's mount.
func runSDKScript(node, dir, mount string) (stdout, stderr []byte, err error) {
	cmd := exec.Command(node, "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VAULT_ADDR=http://"+dev.addr, "VAULT_TOKEN="+dev.token, "KMS_MOUNT="+mount, "NODE_NO_WARNINGS=1")
	stdout, err = cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	return stdout, stderr, err
}
