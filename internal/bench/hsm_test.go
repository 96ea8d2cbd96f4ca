package bench

import (
	"errors"
	"strings"
	"testing"
)

// Without an HSM connection the suite refuses to start, saying what is
// missing, instead of leaving the SoftHSM2 row out. The address answers
// nothing: the refusal comes before any request (one would fail with a
// connection error instead).
func TestRowsRefuseWithoutHSM(t *testing.T) {
	c := NewClient("http://127.0.0.1:1", "token", 1)
	rows, err := c.Rows(t.Context(), Mounts{KMS: "kms", Transit: "transit", Floor: "floor"})
	if !errors.Is(err, errNoHSM) {
		t.Fatalf("Rows without an HSM: rows %d, error %v; want errNoHSM", len(rows), err)
	}
	for _, want := range []string{HSMRowName, "-hsm", HSMPINEnv, "scripts/bench.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
}
