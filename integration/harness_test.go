// Package integration drives the plugin inside a real Vault server, through
// Vault's HTTP API and the vault CLI, the way users do.
package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

const pluginName = "vault-plugin-kms"

// dev is the dev-mode Vault every test shares, with the plugin at kms/.
var dev *vaultServer

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin := os.Getenv("VAULT_BINARY")
	if bin == "" {
		msg := "integration tests need a Vault server: run `make test` (it builds Vault and sets VAULT_BINARY)"
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg)
			return 1
		}
		fmt.Fprintln(os.Stderr, "SKIPPING integration tests: "+msg)
		return 0
	}
	work, err := os.MkdirTemp("", "kms-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	pluginDir := filepath.Join(work, "plugins")
	if err := buildPlugin(pluginDir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: building the plugin:", err)
		return 1
	}
	dev, err = startVault(bin, pluginDir, filepath.Join(work, "dev"), true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting Vault:", err)
		return 1
	}
	defer dev.stop()
	if err := dev.registerAndMount("kms"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: registering the plugin:", err)
		dev.dumpLog(os.Stderr)
		return 1
	}
	code := m.Run()
	if code != 0 {
		dev.dumpLog(os.Stderr)
	}
	return code
}

func pluginVersion() string {
	if v := os.Getenv("PLUGIN_VERSION"); v != "" {
		return v
	}
	return "v0.1.0"
}

func buildPlugin(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(self))
	cmd := exec.Command("go", "build", "-ldflags",
		"-X github.com/openkms/vault-plugin-kms.Version="+pluginVersion(),
		"-o", filepath.Join(dir, pluginName), "./cmd/vault-plugin-kms")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// vaultServer is one running Vault process.
type vaultServer struct {
	bin, pluginDir, dir string
	addr                string
	token               string
	devMode             bool
	cmd                 *exec.Cmd
	log                 *os.File
	client              *api.Client
	unsealKey           string
}

// handedOut holds every address freeAddr returned: the kernel hands a
// port just closed out again, so a cluster's six addresses, taken one
// after the other, held the same port twice in about 0.2% of tries.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// freeAddr returns a loopback address no listener holds and that this
// process has not handed out before.
func freeAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr, nil
		}
	}
	return "", errors.New("no loopback port that was not handed out before")
}

// startVault starts Vault in dev mode (in-memory storage, root token
// "root"), or in server mode with file storage under dir, initialised and
// unsealed, so that it can be restarted with its data.
func startVault(bin, pluginDir, dir string, devMode bool) (*vaultServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	v := &vaultServer{bin: bin, pluginDir: pluginDir, dir: dir, addr: addr, devMode: devMode}
	if devMode {
		v.token = "root"
	}
	return v, v.start()
}

func (v *vaultServer) start() error {
	cfg := fmt.Sprintf("plugin_directory = %q\ndisable_mlock = true\n", v.pluginDir)
	args := []string{"server"}
	if v.devMode {
		args = append(args, "-dev", "-dev-root-token-id=root", "-dev-listen-address="+v.addr)
	} else {
		cfg += fmt.Sprintf("storage \"file\" {\n  path = %q\n}\nlistener \"tcp\" {\n  address = %q\n  tls_disable = true\n}\napi_addr = \"http://%s\"\n",
			filepath.Join(v.dir, "data"), v.addr, v.addr)
	}
	if err := v.launch(cfg, args...); err != nil {
		return err
	}
	if !v.devMode {
		if err := v.initAndUnseal(); err != nil {
			return err
		}
	}
	v.client.SetToken(v.token)
	return nil
}

// launch writes cfg, starts `vault <args> -config=...` with its output in
// vault.log, and waits until the HTTP API answers.
func (v *vaultServer) launch(cfg string, args ...string) error {
	cfgPath := filepath.Join(v.dir, "vault.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	args = append(args, "-config="+cfgPath, "-log-level=debug")
	logf, err := os.OpenFile(filepath.Join(v.dir, "vault.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	v.log = logf
	v.cmd = exec.Command(v.bin, args...)
	v.cmd.Env = v.env()
	v.cmd.Stdout, v.cmd.Stderr = logf, logf
	if err := v.cmd.Start(); err != nil {
		return err
	}
	cfgAPI := api.DefaultConfig()
	cfgAPI.Address = "http://" + v.addr
	client, err := api.NewClient(cfgAPI)
	if err != nil {
		return err
	}
	v.client = client
	if err := v.waitUp(); err != nil {
		// A server that did not come up is stopped here: the caller fails
		// before it registers a cleanup, and the process would outlive the
		// test, writing into a directory being removed.
		v.stopAndReap()
		return err
	}
	return nil
}

func (v *vaultServer) waitUp() error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + v.addr + "/v1/sys/seal-status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if v.cmd.ProcessState != nil {
			return errors.New("vault exited")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("vault did not answer within 60s")
}

func (v *vaultServer) initAndUnseal() error {
	if v.unsealKey == "" {
		init, err := v.client.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			return err
		}
		v.unsealKey, v.token = init.Keys[0], init.RootToken
	}
	if _, err := v.client.Sys().Unseal(v.unsealKey); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if h, err := v.client.Sys().Health(); err == nil && !h.Sealed && h.Initialized && !h.Standby {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("vault did not become active after unseal")
}

func (v *vaultServer) stop() {
	if v.cmd != nil && v.cmd.Process != nil {
		_ = v.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = v.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = v.cmd.Process.Kill()
			<-done
		}
	}
	if v.log != nil {
		v.log.Close()
	}
}

func (v *vaultServer) restart() error {
	v.stop()
	return v.start()
}

func (v *vaultServer) dumpLog(w io.Writer) {
	b, err := os.ReadFile(filepath.Join(v.dir, "vault.log"))
	if err != nil {
		fmt.Fprintf(w, "---- no Vault log: %v\n", err)
		return
	}
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	fmt.Fprintf(w, "---- tail of the Vault log ----\n%s\n", b)
}

// env is a clean environment for Vault and the CLI: no VAULT_* variables
// from the caller, and a HOME of our own for the CLI's token helper.
func (v *vaultServer) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	// The plugin inherits Vault's environment; tests read its debug lines.
	return append(env, "HOME="+v.dir, "VAULT_ADDR=http://"+v.addr, "VAULT_TOKEN="+v.token, "VAULT_KMS_LOG_LEVEL=debug")
}

func (v *vaultServer) registerAndMount(path string) error {
	sha, err := fileSHA256(filepath.Join(v.pluginDir, pluginName))
	if err != nil {
		return err
	}
	if err := v.client.Sys().RegisterPlugin(&api.RegisterPluginInput{
		Name: pluginName, Type: api.PluginTypeSecrets, Command: pluginName, SHA256: sha, Version: pluginVersion(),
	}); err != nil {
		return err
	}
	return v.client.Sys().Mount(path, &api.MountInput{Type: pluginName, Config: kmsMountConfig()})
}

// kmsMountConfig is the mount configuration the README documents for AWS
// clients: X-Amz-Target reaches the plugin, x-amzn-RequestId reaches the
// client, and a request to ".../aws/" (the AWS SDK for Go v1 and for
// JavaScript v3 append the slash) is not refused as a write to a directory.
func kmsMountConfig() api.MountConfigInput {
	trim := true
	return api.MountConfigInput{
		PassthroughRequestHeaders:  []string{"X-Amz-Target"},
		AllowedResponseHeaders:     []string{"x-amzn-RequestId", "X-Kms-Audit"},
		TrimRequestTrailingSlashes: &trim,
		PluginVersion:              pluginVersion(),
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cli runs the vault CLI against this server.
func (v *vaultServer) cli(args ...string) (string, string, error) {
	cmd := exec.Command(v.bin, args...)
	cmd.Env = v.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustCLI runs the CLI and fails the test if it fails.
func mustCLI(t *testing.T, v *vaultServer, args ...string) string {
	t.Helper()
	out, errOut, err := v.cli(args...)
	require.NoError(t, err, "vault %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	return out
}

// write, read and list call the HTTP API on the shared dev server.
func write(t *testing.T, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := dev.client.Logical().Write(path, data)
	require.NoError(t, err, "write %s", path)
	if s != nil {
		checkServedSchema(t, "post", path, s.Data)
	}
	return s
}

func read(t *testing.T, path string) *api.Secret {
	t.Helper()
	s, err := dev.client.Logical().Read(path)
	require.NoError(t, err, "read %s", path)
	require.NotNil(t, s, "read %s", path)
	checkServedSchema(t, "get", path, s.Data)
	return s
}

// requireAWSError asserts an API error with the HTTP status and the AWS
// exception name in its message.
func requireAWSError(t *testing.T, err error, status int, exception string) {
	t.Helper()
	require.Error(t, err)
	var re *api.ResponseError
	require.True(t, errors.As(err, &re), "want an HTTP error, got %v", err)
	require.Equal(t, status, re.StatusCode, "errors: %v", re.Errors)
	require.NotEmpty(t, re.Errors)
	require.Contains(t, strings.Join(re.Errors, "; "), exception+": ")
}

func writeErr(t *testing.T, path string, data map[string]any, status int, exception string) {
	t.Helper()
	_, err := dev.client.Logical().Write(path, data)
	requireAWSError(t, err, status, exception)
}

// readErr reads raw: the API client's Read turns a 404 into (nil, nil),
// which would hide the error under test.
func readErr(t *testing.T, path string, status int, exception string) {
	t.Helper()
	resp, err := dev.client.Logical().ReadRawWithContext(t.Context(), path)
	if resp != nil {
		resp.Body.Close()
	}
	requireAWSError(t, err, status, exception)
}

// unique returns a name no other test uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}
