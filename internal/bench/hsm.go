package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// HSM is the token behind the plugin's SoftHSM2 row: an HSM connection an
// operator wrote (kms/config/hsm/<Connection>, sudo) and the PIN of the
// token's crypto user, which CreateCustomKeyStore checks. scripts/bench.sh
// sets up a SoftHSM2 token and passes both.
type HSM struct {
	Connection string
	PIN        string
}

// HSMPINEnv names the environment variable kms-bench reads the PIN from,
// so that it stays off the command line.
const HSMPINEnv = "KMS_BENCH_HSM_PIN"

// HSMFromEnv is the HSM with the given connection and the PIN from the
// environment.
func HSMFromEnv(connection string) HSM {
	return HSM{Connection: connection, PIN: os.Getenv(HSMPINEnv)}
}

// HSMRowName is the row that encrypts with a key in the token, beside
// "encrypt 1 KiB" with a software key.
const HSMRowName = "encrypt 1 KiB (SoftHSM2 key)"

// errNoHSM: the table always has the SoftHSM2 row, so a run without a
// token fails rather than leave the row out unnoticed.
var errNoHSM = errors.New("the '" + HSMRowName + "' row needs an HSM connection to a SoftHSM2 token: " +
	"give -hsm <connection> and " + HSMPINEnv + " (scripts/bench.sh, behind make bench, creates the token and passes both)")

// benchStoreName is the custom key store kms-bench creates on the
// connection (or finds there, when the suite runs again on `serve`).
const benchStoreName = "kms-bench"

// createHSMKey makes (or reuses) a connected custom key store on the
// HSM connection and creates a key in it: s.keys["hsm"].
func (s *rowSet) createHSMKey(ctx context.Context) error {
	id, state, err := s.findStore(ctx)
	if err != nil {
		return err
	}
	if id == "" {
		if s.m.HSM.PIN == "" {
			return fmt.Errorf("%s is not set: kms-bench needs the token's PIN to create a custom key store on %s", HSMPINEnv, s.m.HSM.Connection)
		}
		out, err := s.c.call(ctx, s.kms("custom-key-stores"), map[string]any{"custom_key_store_name": benchStoreName,
			"cloud_hsm_cluster_id": s.m.HSM.Connection, "key_store_password": s.m.HSM.PIN})
		if err != nil {
			return err
		}
		id, state = str(out, "custom_key_store_id"), str(out, "connection_state")
	}
	if state != "CONNECTED" {
		if _, err := s.c.call(ctx, s.kms("custom-key-stores/"+id+"/connect"), nil); err != nil {
			return err
		}
		// Connecting answers once it has finished; a failure shows only in
		// the store's state.
		st, err := s.c.send(ctx, Request{Method: "GET", Path: s.kms("custom-key-stores/" + id)})
		if err != nil {
			return err
		}
		if got := str(st, "connection_state"); got != "CONNECTED" {
			return fmt.Errorf("custom key store %s on %s is %s (%s), not CONNECTED", id, s.m.HSM.Connection, got, str(st, "connection_error_code"))
		}
	}
	out, err := s.c.call(ctx, s.kms("keys"), map[string]any{"description": "bench (SoftHSM2)", "custom_key_store_id": id})
	if err != nil {
		return err
	}
	s.keys["hsm"] = str(out, "key_id")
	return nil
}

// findStore returns the custom key store on the HSM connection, if any,
// and its connection state.
func (s *rowSet) findStore(ctx context.Context) (id, state string, err error) {
	path := s.kms("custom-key-stores")
	status, raw, err := s.c.Do(ctx, Request{Method: "LIST", Path: path})
	if err != nil || status == http.StatusNotFound { // Vault answers an empty list with 404
		return "", "", err
	}
	list, err := decodeData(path, status, raw)
	if err != nil {
		return "", "", err
	}
	info, _ := list["key_info"].(map[string]any)
	for id, v := range info {
		st, _ := v.(map[string]any)
		if str(st, "cloud_hsm_cluster_id") == s.m.HSM.Connection {
			return id, str(st, "connection_state"), nil
		}
	}
	return "", "", nil
}
