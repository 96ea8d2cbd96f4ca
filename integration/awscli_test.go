package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The AWS CLI, unmodified and without custom headers, through Vault Proxy
// (api_proxy with use_auto_auth_token = "force", as scripts/proxy.sh sets
// it up), pointed at the plugin by AWS_ENDPOINT_URL_KMS.

// awsCLI finds the aws command, installing Debian's awscli when it is
// missing and the test runs as root, as scripts/deps.sh does.
func awsCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws"); err == nil {
		return p
	}
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "awscli"}} {
			if out, err := exec.Command("apt-get", args...).CombinedOutput(); err != nil {
				t.Logf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the AWS CLI (Debian's awscli) is needed for the Vault Proxy test")
		}
		t.Skip("SKIPPING: the AWS CLI (Debian's awscli) is needed for the Vault Proxy test")
	}
	return p
}

// startProxy runs `vault proxy` in front of the dev server, authenticating
// every request with token; it returns the proxy's address.
func startProxy(t *testing.T, token string) string {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	addr, err := freeAddr()
	require.NoError(t, err)
	cfg := fmt.Sprintf(`vault {
  address = "http://%s"
}
auto_auth {
  method "token_file" {
    config = {
      token_file_path = %q
    }
  }
}
api_proxy {
  use_auto_auth_token = "force"
}
listener "tcp" {
  address     = %q
  tls_disable = true
}
`, dev.addr, tokenFile, addr)
	cfgPath := filepath.Join(dir, "proxy.hcl")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	logFile, err := os.Create(filepath.Join(dir, "proxy.log"))
	require.NoError(t, err)
	cmd := exec.Command(dev.bin, "proxy", "-config="+cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	// Ready once a request without a token is answered as the token's
	// identity.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v1/auth/token/lookup-self")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("Vault Proxy did not come up: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cliSession runs `aws kms` through one proxy with throw-away credentials
// and no user configuration.
type cliSession struct {
	t    *testing.T
	bin  string
	env  []string
	name string
}

func newCLISession(t *testing.T, bin, proxy, name string) *cliSession {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	env := append(os.Environ(),
		"AWS_ENDPOINT_URL_KMS=http://"+proxy+"/v1/kms/aws",
		"AWS_ACCESS_KEY_ID=unused", "AWS_SECRET_ACCESS_KEY=unused", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
		"HOME="+dir)
	return &cliSession{t: t, bin: bin, env: env, name: name}
}

// run returns the JSON output, or the error text (which names the AWS
// exception).
func (s *cliSession) run(args ...string) (map[string]any, error) {
	cmd := exec.Command(s.bin, append(append([]string{"kms"}, args...), "--output", "json")...)
	cmd.Env = s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: aws kms %s: %v: %s", s.name, strings.Join(args, " "), err, errb.String())
	}
	m := map[string]any{}
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("aws kms %s: %v: %s", strings.Join(args, " "), err, out.String())
		}
	}
	return m, nil
}

func (s *cliSession) ok(args ...string) map[string]any {
	s.t.Helper()
	m, err := s.run(args...)
	require.NoError(s.t, err)
	return m
}

func (s *cliSession) refused(exception string, args ...string) {
	s.t.Helper()
	_, err := s.run(args...)
	require.Error(s.t, err)
	require.Contains(s.t, err.Error(), "("+exception+")")
}

func decodeB64(t *testing.T, v any) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.(string))
	require.NoError(t, err)
	return b
}

func TestAWSCLIThroughVaultProxy(t *testing.T) {
	bin := awsCLI(t)
	users, arns := iamIdentities(t)
	alice := newCLISession(t, bin, startProxy(t, users["alice"].client.Token()), "alice")
	bob := newCLISession(t, bin, startProxy(t, users["bob"].client.Token()), "bob")
	dir := t.TempDir()
	file := func(name string, data []byte) string { return writeFile(t, dir, name, data) }

	// create-key with an AWS policy; get-key-policy returns it.
	owner := `{"Sid":"owner","Effect":"Allow","Principal":{"AWS":"` + arns["alice"] + `"},"Action":"kms:*","Resource":"*"}`
	policy := awsPolicy(owner)
	key := alice.ok("create-key", "--description", "cli", "--policy", "file://"+file("policy.json", []byte(policy)))
	id := key["KeyMetadata"].(map[string]any)["KeyId"].(string)
	got := alice.ok("get-key-policy", "--key-id", id, "--policy-name", "default")
	require.Equal(t, policy, got["Policy"])

	// create-alias, encrypt/decrypt with an encryption context.
	alias := "alias/" + unique("cli")
	alice.ok("create-alias", "--alias-name", alias, "--target-key-id", id)
	pt := file("pt", []byte("hello from the aws cli"))
	enc := alice.ok("encrypt", "--key-id", alias, "--plaintext", "fileb://"+pt, "--encryption-context", "app=cli,team=blue")
	blob := file("blob", decodeB64(t, enc["CiphertextBlob"]))
	dec := alice.ok("decrypt", "--ciphertext-blob", "fileb://"+blob, "--encryption-context", "app=cli,team=blue")
	require.Equal(t, "hello from the aws cli", string(decodeB64(t, dec["Plaintext"])))
	alice.refused("InvalidCiphertextException", "decrypt", "--ciphertext-blob", "fileb://"+blob, "--encryption-context", "app=other,team=blue")

	// sign/verify, and OpenSSL verifies with the public key get-public-key returns.
	signKey := alice.ok("create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY", "--policy", "file://"+file("policy2.json", []byte(policy)))
	sid := signKey["KeyMetadata"].(map[string]any)["KeyId"].(string)
	msg := file("msg", []byte("signed by vault-plugin-kms"))
	sig := alice.ok("sign", "--key-id", sid, "--message", "fileb://"+msg, "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
	sigPath := file("sig", decodeB64(t, sig["Signature"]))
	ver := alice.ok("verify", "--key-id", sid, "--message", "fileb://"+msg, "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256", "--signature", "fileb://"+sigPath)
	require.Equal(t, true, ver["SignatureValid"])
	pub := alice.ok("get-public-key", "--key-id", sid)
	der := file("pub.der", decodeB64(t, pub["PublicKey"]))
	pem := filepath.Join(dir, "pub.pem")
	openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem)
	require.Contains(t, string(openssl(t, "dgst", "-sha256", "-verify", pem, "-signature", sigPath, msg)), "Verified OK")

	// A grant to bob's IAM user ARN (his userpass entity) lets him encrypt.
	bob.refused("AccessDeniedException", "encrypt", "--key-id", id, "--plaintext", "fileb://"+pt)
	grant := alice.ok("create-grant", "--key-id", id, "--grantee-principal", arns["bob"], "--operations", "Encrypt")
	require.NotEmpty(t, grant["GrantToken"])
	bob.ok("encrypt", "--key-id", id, "--plaintext", "fileb://"+pt)

	// put-key-policy that denies bob: the Deny beats his grant.
	deny := awsPolicy(owner, `{"Sid":"no-bob","Effect":"Deny","Principal":{"AWS":"`+arns["bob"]+`"},"Action":"kms:*","Resource":"*"}`)
	alice.ok("put-key-policy", "--key-id", id, "--policy-name", "default", "--policy", "file://"+file("deny.json", []byte(deny)))
	bob.refused("AccessDeniedException", "encrypt", "--key-id", id, "--plaintext", "fileb://"+pt)
	require.Equal(t, deny, alice.ok("get-key-policy", "--key-id", id, "--policy-name", "default")["Policy"])
}
