package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/openkms/vault-plugin-kms/"

// The root files an encrypt's own logic may run through: decode the fields,
// resolve the key under the mount's ARN scheme, authorize, do the crypto.
// Everything else it runs is below the root (internal/*, keyspec,
// ciphertext, awspolicy) or the per-request wrapping every path shares.
var encryptLogic = []string{"path_crypto.go", "fields.go", "crypto.go", "mount.go", "authz.go"}

// perRequest is the wrapping every request of every path runs through:
// the framework entry and error classes, the policy attributes, the audit
// event, the batch runner, the replication-state cache, the response
// schema.
var perRequest = []string{"backend.go", "errors.go", "authz_attrs.go", "audit.go", "batch.go", "sysview.go", "responses.go"}

// TestEncryptPathGoesDown measures, by coverage, the files one encrypt
// runs through (issue 23): in the root only the five files of its own
// logic and the shared per-request wrapping, never another path family's
// file.
func TestEncryptPathGoesDown(t *testing.T) {
	files := callpathFiles(t)
	t.Logf("an encrypt runs through %d files: %s", len(files), strings.Join(files, " "))
	allowed := map[string]bool{}
	for _, f := range append(encryptLogic, perRequest...) {
		allowed[f] = true
	}
	var logic []string
	for _, f := range files {
		if strings.Contains(f, "/") {
			continue // below the root
		}
		if !allowed[f] {
			t.Errorf("an encrypt runs through root file %s, outside its own logic and the per-request wrapping", f)
		}
		if !contains(perRequest, f) {
			logic = append(logic, f)
		}
	}
	if len(logic) > 5 {
		t.Errorf("an encrypt's own logic spans %d root files (%v), more than five", len(logic), logic)
	}
}

// callpathFiles builds this command with coverage, runs it, and returns
// the files (relative to the module) whose blocks the measured encrypt ran.
func callpathFiles(t *testing.T) []string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "callpath")
	sh(t, "go", "build", "-cover", "-covermode=atomic", "-coverpkg="+module+"...", "-o", bin, ".")
	sh(t, "env", "GOCOVERDIR="+dir, bin, dir)
	before := counts(t, dir, "before")
	after := counts(t, dir, "after")
	seen := map[string]bool{}
	for blk, n := range after {
		if n > before[blk] {
			f := strings.TrimPrefix(blk[:strings.Index(blk, ":")], module)
			if !strings.HasPrefix(f, "cmd/") {
				seen[f] = true
			}
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no file ran: the coverage snapshots are empty")
	}
	return out
}

func counts(t *testing.T, dir, snap string) map[string]int {
	txt := filepath.Join(dir, snap+".txt")
	sh(t, "go", "tool", "covdata", "textfmt", "-i="+filepath.Join(dir, snap), "-o="+txt)
	f, err := os.Open(txt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") {
			continue
		}
		i := strings.LastIndex(line, " ")
		n, err := strconv.Atoi(line[i+1:])
		if err != nil {
			t.Fatalf("covdata line %q: %v", line, err)
		}
		blk := line[:strings.LastIndex(line[:i], " ")]
		out[blk] += n
	}
	return out
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
