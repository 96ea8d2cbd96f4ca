package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// activeKill SIGKILLs the active node while clients encrypt and decrypt
// through a standby, then checks that the new active node has all the
// state the old one acknowledged, that the killed node rejoins and serves,
// and that the periodic function expires imported material once, on the
// new active node.
func activeKill(t *testing.T, c *vaultCluster) {
	old := c.active()
	ac := newClient(t, old.addr, c.token, true)
	surviving := c.standbys()[0]

	// Keys whose whole state is dumped before and after. Each is used at
	// most once: last usage is persisted on a key's first use in a minute,
	// later uses only in the memory of the node that served them.
	var ids []string
	var blobs []sealed
	newKey := func(data map[string]any) string {
		id := cwrite(t, ac, "kms/keys", data)["key_id"].(string)
		ids = append(ids, id)
		return id
	}
	encrypt := func(id string) sealed {
		pt := randomText()
		s := sealed{blob: cwrite(t, ac, "kms/encrypt/"+id, map[string]any{"plaintext": pt})["ciphertext_blob"].(string), plaintext: pt}
		return s
	}
	sym := newKey(map[string]any{"description": "rotated", "alias": "alias/" + unique("failover"), "tags": map[string]any{"env": "prod"}})
	cwrite(t, ac, "kms/keys/"+sym+"/rotation", map[string]any{"rotation_period_days": 120})
	cwrite(t, ac, "kms/keys/"+sym+"/rotate", nil)
	cwrite(t, ac, "kms/keys/"+sym+"/rotate", nil)
	blobs = append(blobs, encrypt(sym))
	signer := newKey(map[string]any{"key_spec": "ECC_NIST_P384", "key_usage": "SIGN_VERIFY", "tags": map[string]any{"kind": "signer"}})
	cwrite(t, ac, "kms/sign/"+signer, map[string]any{"message": b64([]byte("m")), "signing_algorithm": "ECDSA_SHA_384"})
	newKey(map[string]any{"key_spec": "HMAC_256", "description": "unused mac key"})
	imported := newKey(map[string]any{"origin": "EXTERNAL"})
	importMaterial(t, ac, imported, openssl(t, "rand", "32"), nil)
	blobs = append(blobs, encrypt(imported))
	pending := newKey(nil)
	cwrite(t, ac, "kms/keys/"+pending+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	toDisable := newKey(nil)
	disabledBlob := encrypt(toDisable)
	toRestrict := newKey(nil)
	blobs = append(blobs, encrypt(toRestrict))
	gtok, gname := granteeOn(t, ac, "failover-grantee")
	granted := newKey(map[string]any{"policy": policyAllowingAllBut("Decrypt", "GenerateDataKey")})
	grantedBlob := encrypt(granted)
	revoked := cwrite(t, ac, "kms/keys/"+granted+"/grants", map[string]any{"grantee_principal": "entity_name:" + gname, "operations": "Decrypt", "name": "revoked"})
	kept := cwrite(t, ac, "kms/keys/"+granted+"/grants", map[string]any{"grantee_principal": "entity_name:" + gname, "operations": "GenerateDataKey", "name": "kept"})
	require.NotEmpty(t, kept["grant_id"])
	gc := newClient(t, surviving.addr, gtok, true)
	expiring := cwrite(t, ac, "kms/keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)

	// The load, against the standby that survives.
	loadKeys := []string{cwrite(t, ac, "kms/keys", nil)["key_id"].(string), cwrite(t, ac, "kms/keys", nil)["key_id"].(string)}
	load := startLoad(t, surviving.addr, c.token, loadKeys, 4, 20*time.Millisecond)
	time.Sleep(time.Second)

	// Changes acknowledged by the old active just before it dies.
	cwrite(t, ac, "kms/keys/"+toDisable+"/disable", nil)
	_, err := ac.Logical().Delete("kms/keys/" + granted + "/grants/" + revoked["grant_id"].(string))
	require.NoError(t, err)
	cwrite(t, ac, "kms/keys/"+toRestrict+"/policy", map[string]any{"policy": policyAllowingAllBut("Encrypt")})
	before := dump(t, ac, ids)
	// Material that expires shortly after the kill (20 s after its import,
	// room for a slow import; the new active's periodic function first runs
	// about a minute after it takes over): that function must delete it.
	importMaterial(t, ac, expiring, openssl(t, "rand", "32"), map[string]any{
		"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)})

	killedAt := time.Now()
	orphans := old.kill9()
	t.Cleanup(func() { reap(orphans) })
	elected := c.waitActive(60 * time.Second)
	election := time.Since(killedAt)
	require.NotEqual(t, old, elected)
	// Let the load run on until it has succeeded for a while.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		if _, err := strictWrite(newClient(t, surviving.addr, c.token, true), "kms/encrypt/"+loadKeys[0],
			map[string]any{"plaintext": b64([]byte("probe"))}); err == nil {
			break
		}
	}
	time.Sleep(2 * time.Second)
	load.halt()
	recovered, failed, kinds := load.outage(killedAt)
	t.Logf("failover: %s became active %.1f s after the kill -9 of %s; clients of %s were served again %.1f s after the kill; "+
		"%d of %d requests failed (%v)", elected.id, election.Seconds(), old.id, surviving.id, recovered.Seconds(), failed, len(load.all), kinds)
	require.Positive(t, recovered, "the load was served again after the failover")
	for kind := range kinds {
		require.Contains(t, []string{"HTTP 307", "HTTP 500", "HTTP 502", "HTTP 503", "connection refused", "timeout"}, kind,
			"failures during a failover are the cluster's unavailability, not refusals")
	}

	sc := newClient(t, surviving.addr, c.token, true)
	t.Run("the new active has everything the old one acknowledged", func(t *testing.T) {
		require.Equal(t, before, dump(t, sc, ids))
	})
	t.Run("every recorded ciphertext decrypts", func(t *testing.T) {
		require.NotEmpty(t, load.blobs)
		for _, s := range append(blobs, load.blobs...) {
			require.Equal(t, s.plaintext, cwrite(t, sc, "kms/decrypt", map[string]any{"ciphertext_blob": s.blob})["plaintext"])
		}
		t.Logf("%d ciphertexts decrypted", len(blobs)+len(load.blobs))
	})
	t.Run("changes made just before the kill are in force", func(t *testing.T) {
		cwriteErr(t, sc, "kms/decrypt", map[string]any{"ciphertext_blob": disabledBlob.blob}, http.StatusBadRequest, "DisabledException")
		cwriteErr(t, gc, "kms/decrypt", map[string]any{"ciphertext_blob": grantedBlob.blob}, http.StatusForbidden, "AccessDeniedException")
		// The grant that was not revoked still works for its grantee.
		cwrite(t, gc, "kms/data-key/plaintext/"+granted, map[string]any{"key_spec": "AES_256"})
		cwriteErr(t, sc, "kms/data-key/plaintext/"+granted, map[string]any{"key_spec": "AES_256"}, http.StatusForbidden, "AccessDeniedException")
		cwriteErr(t, sc, "kms/encrypt/"+toRestrict, map[string]any{"plaintext": b64([]byte("x"))}, http.StatusForbidden, "AccessDeniedException")
		cwrite(t, sc, "kms/keys", map[string]any{"description": "after the failover"})
	})
	t.Run("the killed node restarts, rejoins and serves", func(t *testing.T) {
		c.restartNode(old)
		require.NoError(t, c.waitStandby(old, 60*time.Second))
		oc := newClient(t, old.addr, c.token, true)
		// Decrypting above moved the key's last usage on; the rest is unchanged.
		want, got := before[sym+" describe"].(map[string]any), dump(t, oc, []string{sym})[sym+" describe"].(map[string]any)
		for _, m := range []map[string]any{want, got} {
			delete(m, "last_used_date")
			delete(m, "last_used_operation")
		}
		require.Equal(t, want, got)
		s := cwrite(t, oc, "kms/encrypt/"+sym, map[string]any{"plaintext": b64([]byte("rejoined"))})
		require.Equal(t, b64([]byte("rejoined")), cwrite(t, oc, "kms/decrypt", map[string]any{"ciphertext_blob": s["ciphertext_blob"]})["plaintext"])
		cwrite(t, oc, "kms/keys", map[string]any{"description": "through the rejoined node"})
	})
	t.Run("imported material expires once, on the new active", func(t *testing.T) {
		// The periodic function runs about once a minute on the active node.
		line := pluginLogLine("imported key material expired and was deleted", expiring)
		deadline := time.Now().Add(150 * time.Second)
		for countLogLines(t, elected, line) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Second)
		}
		for _, n := range c.nodes {
			want := 0
			if n == elected {
				want = 1
			}
			require.Equal(t, want, countLogLines(t, n, line), "expiries logged by %s", n.id)
		}
		require.Equal(t, "PendingImport", cread(t, sc, "kms/keys/"+expiring)["key_state"])
	})
}
