// Package hsmtest sets up real SoftHSM2 tokens for tests: a token directory
// and configuration in t.TempDir(), tokens initialised with softhsm2-util,
// and pkcs11-tool to look inside them. Nothing here is a mock of PKCS#11.
package hsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ModuleCandidates are where Debian and other distributions put SoftHSM2's
// PKCS#11 library; SOFTHSM2_MODULE overrides them.
var ModuleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
}

// Module finds SoftHSM2's library, or "".
func Module() string {
	if m := os.Getenv("SOFTHSM2_MODULE"); m != "" {
		return m
	}
	for _, c := range ModuleCandidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// SoftHSM is a SoftHSM2 installation private to one test: its own token
// directory and configuration file.
type SoftHSM struct {
	Module string // path of libsofthsm2.so
	Dir    string // token directory
	Conf   string // the SOFTHSM2_CONF file
}

// Token is an initialised token and its PINs.
type Token struct {
	Label string
	PIN   string // the crypto user's
	SOPIN string
}

// New creates the configuration and points SOFTHSM2_CONF at it for the
// test's process (so the test cannot run in parallel with another that
// sets it). Without softhsm2 the test fails under CI and is skipped,
// saying so, elsewhere: scripts/deps.sh installs it.
func New(t testing.TB) *SoftHSM {
	t.Helper()
	module := Module()
	_, utilErr := exec.LookPath("softhsm2-util")
	if module == "" || utilErr != nil {
		msg := "softhsm2 is needed for the PKCS#11 tests (scripts/deps.sh installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	return &SoftHSM{Module: module, Dir: tokens, Conf: conf}
}

// InitToken initialises a token in a free slot with random PINs.
func (s *SoftHSM) InitToken(t testing.TB, label string) Token {
	t.Helper()
	tok := Token{Label: label, PIN: randomPIN(t), SOPIN: randomPIN(t)}
	s.run(t, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", tok.PIN, "--so-pin", tok.SOPIN)
	return tok
}

// DeleteToken removes a token as an operator would, from outside the
// process that uses it.
func (s *SoftHSM) DeleteToken(t testing.TB, label string) {
	t.Helper()
	s.run(t, "softhsm2-util", "--delete-token", "--token", label)
}

// ListObjects runs `pkcs11-tool --list-objects` logged in as the token's
// user and returns its output. Without pkcs11-tool (Debian's opensc) the
// test fails under CI and is skipped elsewhere.
func (s *SoftHSM) ListObjects(t testing.TB, tok Token) string {
	t.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		msg := "pkcs11-tool (opensc) is needed (scripts/deps.sh installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return s.run(t, "pkcs11-tool", "--module", s.Module, "--token-label", tok.Label,
		"--login", "--pin", tok.PIN, "--list-objects")
}

// Object is the part of pkcs11-tool's listing for the object with a label
// ("" when there is none): its header line and attribute lines.
func Object(listing, label string) string {
	blocks := strings.Split(listing, "\n")
	var cur []string
	var match bool
	flush := func() string {
		if match {
			return strings.Join(cur, "\n")
		}
		return ""
	}
	for _, line := range blocks {
		if line != "" && !strings.HasPrefix(line, " ") {
			if out := flush(); out != "" {
				return out
			}
			cur, match = nil, false
		}
		cur = append(cur, line)
		if f := strings.Fields(line); len(f) == 2 && f[0] == "label:" && f[1] == label {
			match = true
		}
	}
	return flush()
}

func (s *SoftHSM) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+s.Conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The arguments hold PINs: name only the command.
		t.Fatalf("%s %s: %v: %s", name, args[0], err, out)
	}
	return string(out)
}

func randomPIN(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
