package main

import (
	"os/exec"
	"strings"
	"testing"
)

// below lists, for each package under the root, the module's packages it
// may import (directly or not): calls go down (README, "Calls go down").
// A package missing here fails the test, so a new one is placed
// deliberately.
var below = map[string][]string{
	"internal/kmserr":         {},
	"keyspec/internal/mldsa":  {},
	"awspolicy":               {},
	"internal/hsm":            {},
	"internal/hsm/hsmtest":    {"internal/hsm"},
	"internal/keypool":        {"keyspec", "keyspec/internal/mldsa"},
	"keyspec":                 {"keyspec/internal/mldsa"},
	"ciphertext":              {"internal/kmserr"},
	"internal/customkeystore": {"internal/hsm", "internal/kmserr"},
	"internal/keystore":       {"awspolicy", "internal/kmserr", "keyspec", "keyspec/internal/mldsa"},
	"internal/access":         {"awspolicy", "internal/kmserr", "keyspec", "keyspec/internal/mldsa"},
	"internal/awsapi":         {"internal/kmserr", "keyspec", "keyspec/internal/mldsa"},
	"internal/tokenkeys": {"awspolicy", "ciphertext", "internal/customkeystore", "internal/hsm", "internal/keystore",
		"internal/kmserr", "keyspec", "keyspec/internal/mldsa"},
}

// TestImportsGoDown checks with go list that no package below the root
// imports the root or a package beside or above it; access and keystore
// in particular do not import each other.
func TestImportsGoDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`,
		"../../internal/...", "../../keyspec/...", "../../ciphertext/...", "../../awspolicy/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue // not the module's
		}
		allowed, known := below[pkg]
		if !known {
			if strings.HasPrefix(pkg, "internal/bench") {
				continue // the benchmark client drives the plugin from outside
			}
			t.Errorf("package %s is not placed in the layout (cmd/callpath/imports_test.go)", pkg)
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			d, ours := strings.CutPrefix(dep, module)
			if !ours {
				if dep == strings.TrimSuffix(module, "/") {
					t.Errorf("%s imports the root package", pkg)
				}
				continue
			}
			if !contains(allowed, d) {
				t.Errorf("%s imports %s, which is not below it", pkg, d)
			}
		}
	}
	if checked < len(below) {
		t.Errorf("go list showed %d of the %d packages placed in the layout", checked, len(below))
	}
}
