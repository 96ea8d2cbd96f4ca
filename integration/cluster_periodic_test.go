package integration

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// periodicFailover makes an automatic rotation and the end of a deletion
// window fall due a few seconds after a kill -9 of the active node, with
// the test clock hook (kms/test/clock, on in the cluster's registration):
// the new active node rotates the key exactly once and destroys the other
// exactly once, and no other node does either. The clock offset is in the
// mount's storage, so the new active runs on the clock the old one had.
func periodicFailover(t *testing.T, c *vaultCluster) {
	old := c.active()
	ac := newClient(t, old.addr, c.token, true)

	t.Run("the test clock needs sudo", func(t *testing.T) {
		// The grantee's policy allows every capability on kms/* but sudo.
		gtok, _ := granteeOn(t, ac, "clock-grantee")
		gc := newClient(t, old.addr, gtok, true)
		_, err := gc.Logical().Write("kms/test/clock", map[string]any{"offset": "30d"})
		requireStatus(t, err, http.StatusForbidden)
		require.Zero(t, number(t, cread(t, ac, "kms/test/clock")["offset_seconds"]))
	})

	// The rotation falls due 90 days after it is enabled; then the clock
	// moves 83 days on and the deletion, scheduled with the shortest
	// window (7 days), falls due at about the same time.
	setClock := func(offset int64) {
		got := cwrite(t, ac, "kms/test/clock", map[string]any{"offset": offset})
		require.Equal(t, offset, number(t, got["offset_seconds"]))
	}
	setClock(0)
	rotated := cwrite(t, ac, "kms/keys", map[string]any{"description": "rotates after the failover"})["key_id"].(string)
	cwrite(t, ac, "kms/keys/"+rotated+"/rotation", map[string]any{"rotation_period_days": 90})
	version := func(c *api.Client) int64 {
		return number(t, cread(t, c, "kms/keys/"+rotated)["current_key_version"])
	}
	versionBefore := version(ac)
	blob := cwrite(t, ac, "kms/encrypt/"+rotated, map[string]any{"plaintext": b64([]byte("v1"))})["ciphertext_blob"]
	setClock(83 * 86400)
	deleted := cwrite(t, ac, "kms/keys", map[string]any{"description": "destroyed after the failover"})["key_id"].(string)
	cwrite(t, ac, "kms/keys/"+deleted+"/schedule-deletion", map[string]any{"pending_window_days": 7})

	due := func(c *api.Client, path, field string) time.Time {
		d, err := time.Parse(time.RFC3339, cread(t, c, path)[field].(string))
		require.NoError(t, err, "%s %s", path, field)
		return d
	}
	// The dates are shown to the second; the work is due within that second.
	last := due(ac, "kms/keys/"+rotated+"/rotation", "next_rotation_date")
	if d := due(ac, "kms/keys/"+deleted, "deletion_date"); d.After(last) {
		last = d
	}
	last = last.Add(time.Second)
	// The plugin's clock is set margin short of the later date, and the
	// active node dies before the margin has passed: the old active never
	// sees either due. The new one does when its periodic function first
	// runs, about a minute after it becomes active.
	const margin = 15 * time.Second
	setClock(int64(time.Until(last.Add(-margin)) / time.Second))
	set := time.Now()
	orphans := old.kill9()
	t.Cleanup(func() { reap(orphans) })
	require.Less(t, time.Since(set), margin, "the kill came before the work fell due on the old active")
	killedAt := time.Now()
	elected := c.waitActive(60 * time.Second)
	require.NotEqual(t, old, elected)
	t.Logf("%s became active %.1f s after the kill -9 of %s", elected.id, time.Since(killedAt).Seconds(), old.id)

	rotatedLine := pluginLogLine("rotated key material", rotated)
	deletedLine := pluginLogLine("deleted key at the end of its deletion window", deleted)
	t.Run("the new active does the work once, no other node does it", func(t *testing.T) {
		// Vault runs periodic functions once a minute, the first a minute
		// after the node became active.
		deadline := time.Now().Add(150 * time.Second)
		for time.Now().Before(deadline) &&
			(countLogLines(t, elected, rotatedLine) == 0 || countLogLines(t, elected, deletedLine) == 0) {
			time.Sleep(time.Second)
		}
		t.Logf("waited %.1f s after the kill for the new active's periodic work", time.Since(killedAt).Seconds())
		for _, n := range c.nodes {
			want := 0
			if n == elected {
				want = 1
			} else if n.running() {
				// OSS standbys mount nothing: the plugin, and with it the
				// periodic function, does not run there at all.
				require.Empty(t, n.pluginPIDs(), "plugin processes on standby %s", n.id)
			}
			require.Equal(t, want, countLogLines(t, n, rotatedLine), "rotations of %s logged by %s", rotated, n.id)
			require.Equal(t, want, countLogLines(t, n, deletedLine), "destructions of %s logged by %s", deleted, n.id)
		}
	})

	ec := newClient(t, elected.addr, c.token, true)
	t.Run("the state shows one automatic rotation and no deleted key", func(t *testing.T) {
		require.Equal(t, versionBefore+1, version(ec))
		rotations := clist(t, ec, "kms/keys/"+rotated+"/rotations")
		require.Len(t, rotations["keys"], 1)
		for _, info := range rotations["key_info"].(map[string]any) {
			require.Equal(t, "AUTOMATIC", info.(map[string]any)["rotation_type"])
		}
		// The next rotation is a full period after the new active's clock.
		require.True(t, due(ec, "kms/keys/"+rotated+"/rotation", "next_rotation_date").After(last.Add(89*24*time.Hour)))
		require.Equal(t, b64([]byte("v1")), cwrite(t, ec, "kms/decrypt", map[string]any{"ciphertext_blob": blob})["plaintext"])
		resp, err := ec.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+deleted)
		if resp != nil {
			resp.Body.Close()
		}
		requireAWSError(t, err, http.StatusNotFound, "NotFoundException")
		require.NotContains(t, clist(t, ec, "kms/keys")["keys"], deleted)
	})

	t.Run("the killed node rejoins", func(t *testing.T) {
		c.restartNode(old)
		require.NoError(t, c.waitStandby(old, 60*time.Second))
		// The whole cluster runs on the stored clock: reading through the
		// rejoined node reaches the active node's plugin.
		oc := newClient(t, old.addr, c.token, true)
		require.Positive(t, number(t, cread(t, oc, "kms/test/clock")["offset_seconds"]))
		cwrite(t, oc, "kms/test/clock", map[string]any{"offset": 0})
	})
}

// number reads an integer of a JSON response.
func number(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v (%T) is a JSON number", v, v)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

// requireStatus asserts an HTTP error with the given status.
func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, status, re.StatusCode, "errors: %v", re.Errors)
}
