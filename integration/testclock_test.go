package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTestClockAbsent: the shared server registers the plugin without
// VAULT_KMS_TEST_CLOCK, as production does, so the test-only clock hook
// does not exist there, even for the root token.
func TestTestClockAbsent(t *testing.T) {
	for _, op := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		req := dev.client.NewRequest(op, "/v1/kms/test/clock")
		if op == http.MethodPost {
			require.NoError(t, req.SetJSONBody(map[string]any{"offset": "90d"}))
		}
		resp, err := dev.client.RawRequestWithContext(t.Context(), req)
		if resp != nil {
			resp.Body.Close()
		}
		requireStatus(t, err, http.StatusNotFound)
	}
	// The plugin's clock is the system clock: a key created now is dated now.
	id := write(t, "kms/keys", map[string]any{"description": "dated by the system clock"}).Data["key_id"].(string)
	created, err := time.Parse(time.RFC3339, read(t, "kms/keys/"+id).Data["creation_date"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), created, time.Minute)
}
