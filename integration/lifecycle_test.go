package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

func TestPluginRegisteredBySHA256(t *testing.T) {
	want, err := fileSHA256(filepath.Join(dev.pluginDir, pluginName))
	require.NoError(t, err)
	p, err := dev.client.Sys().GetPluginWithContext(t.Context(), &api.GetPluginInput{
		Name: pluginName, Type: api.PluginTypeSecrets, Version: pluginVersion(),
	})
	require.NoError(t, err)
	require.Equal(t, want, p.SHA256)
	require.Equal(t, pluginVersion(), p.Version)

	mounts, err := dev.client.Sys().ListMounts()
	require.NoError(t, err)
	m := mounts["kms/"]
	require.NotNil(t, m)
	require.Equal(t, pluginName, m.Type)
	require.Equal(t, pluginVersion(), m.RunningVersion)
	require.Equal(t, want, m.RunningSha256)
}

// cliJSON runs a vault CLI command with -format=json and decodes its data.
func cliJSON(t *testing.T, v *vaultServer, args ...string) map[string]any {
	t.Helper()
	full := append([]string{args[0], "-format=json"}, args[1:]...)
	out := mustCLI(t, v, full...)
	var s struct {
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	return s.Data
}

// A user's session with the CLI: keys of several specs, list, describe,
// aliases, tags, disable, schedule and cancel deletion.
func TestCLISession(t *testing.T) {
	alias := "alias/" + unique("cli")
	sym := cliJSON(t, dev, "write", "kms/keys", "description=orders key", "alias="+alias, "tags=env=prod", "tags=team=payments")
	id := sym["key_id"].(string)
	require.Equal(t, "SYMMETRIC_DEFAULT", sym["key_spec"])
	require.Equal(t, []any{alias}, sym["aliases"])

	rsa := cliJSON(t, dev, "write", "kms/keys", "key_spec=RSA_3072", "key_usage=SIGN_VERIFY")
	require.Equal(t, "SIGN_VERIFY", rsa["key_usage"])
	require.Len(t, rsa["signing_algorithms"], 6)
	ecc := cliJSON(t, dev, "write", "kms/keys", "key_spec=ECC_NIST_P256", "key_usage=KEY_AGREEMENT")
	require.Equal(t, []any{"ECDH"}, ecc["key_agreement_algorithms"])
	hmac := cliJSON(t, dev, "write", "kms/keys", "key_spec=HMAC_512")
	require.Equal(t, []any{"HMAC_SHA_512"}, hmac["mac_algorithms"])
	mldsa := cliJSON(t, dev, "write", "kms/keys", "key_spec=ML_DSA_65")
	require.Equal(t, []any{"ML_DSA_SHAKE_256"}, mldsa["signing_algorithms"])

	// The CLI lists the first page (100 keys, as AWS's ListKeys); other
	// tests made keys on this server too, so the keys made here are looked
	// for in the whole list.
	var page []string
	require.NoError(t, json.Unmarshal([]byte(mustCLI(t, dev, "list", "-format=json", "kms/keys")), &page))
	require.NotEmpty(t, page)
	require.LessOrEqual(t, len(page), 100)
	all := listAll(t, dev.client, "kms/keys")
	require.Subset(t, all, page)
	for _, k := range []map[string]any{sym, rsa, ecc, hmac, mldsa} {
		require.Contains(t, all, k["key_id"].(string))
	}

	byAlias := cliJSON(t, dev, "read", "kms/keys/"+alias)
	require.Equal(t, id, byAlias["key_id"])
	require.Equal(t, "orders key", byAlias["description"])

	tags := cliJSON(t, dev, "read", "kms/keys/"+id+"/tags")
	require.Equal(t, map[string]any{"env": "prod", "team": "payments"}, tags["tags"])
	mustCLI(t, dev, "write", "kms/keys/"+id+"/untag", "tag_keys=team")
	require.Equal(t, map[string]any{"env": "prod"}, cliJSON(t, dev, "read", "kms/keys/"+id+"/tags")["tags"])

	second := "alias/" + unique("cli-second")
	mustCLI(t, dev, "write", "kms/aliases/"+second, "target_key_id="+id)
	aliases := mustCLI(t, dev, "list", "kms/aliases")
	require.Contains(t, aliases, alias)
	require.Contains(t, aliases, second)
	other := cliJSON(t, dev, "write", "-f", "kms/keys")
	mustCLI(t, dev, "patch", "kms/aliases/"+second, "target_key_id="+other["key_id"].(string))
	require.Equal(t, other["key_id"], cliJSON(t, dev, "read", "kms/keys/"+second)["key_id"])
	mustCLI(t, dev, "delete", "kms/aliases/"+second)

	require.Equal(t, "Disabled", cliJSON(t, dev, "write", "-f", "kms/keys/"+id+"/disable")["key_state"])
	require.Equal(t, "Enabled", cliJSON(t, dev, "write", "-f", "kms/keys/"+id+"/enable")["key_state"])
	sched := cliJSON(t, dev, "write", "kms/keys/"+id+"/schedule-deletion", "pending_window_days=7")
	require.Equal(t, "PendingDeletion", sched["key_state"])
	require.NotEmpty(t, sched["deletion_date"])
	require.Equal(t, "Disabled", cliJSON(t, dev, "write", "-f", "kms/keys/"+id+"/cancel-deletion")["key_state"])

	// The CLI shows the exception name on refusals.
	_, errOut, err := dev.cli("write", "kms/keys", "key_spec=RSA_1024")
	require.Error(t, err)
	require.Contains(t, errOut, "ValidationException")
	require.Contains(t, errOut, "Code: 400")
}

func TestBadInputs(t *testing.T) {
	id := write(t, "kms/keys", nil).Data["key_id"].(string)
	alias := "alias/" + unique("dup")
	write(t, "kms/aliases/"+alias, map[string]any{"target_key_id": id})

	writeErr(t, "kms/keys", map[string]any{"key_spec": "RSA_1024"}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/keys", map[string]any{"key_spec": "ECC_SECG_P256K1", "key_usage": "KEY_AGREEMENT"}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/keys", map[string]any{"key_spec": "HMAC_256", "key_usage": "SIGN_VERIFY"}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 6}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 31}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/aliases/alias/aws/reserved", map[string]any{"target_key_id": id}, http.StatusBadRequest, "InvalidAliasNameException")
	writeErr(t, "kms/aliases/"+alias, map[string]any{"target_key_id": id}, http.StatusBadRequest, "AlreadyExistsException")
	writeErr(t, "kms/keys", map[string]any{"alias": alias}, http.StatusBadRequest, "AlreadyExistsException")
	readErr(t, "kms/keys/0a1b2c3d-0000-4000-8000-000000000000", http.StatusNotFound, "NotFoundException")
	readErr(t, "kms/keys/alias/"+unique("absent"), http.StatusNotFound, "NotFoundException")
	writeErr(t, "kms/keys/0a1b2c3d-0000-4000-8000-000000000000/disable", nil, http.StatusNotFound, "NotFoundException")
	writeErr(t, "kms/keys/"+id+"/tags", map[string]any{"tags": map[string]any{"aws:x": "y"}}, http.StatusBadRequest, "TagException")
	writeErr(t, "kms/keys/"+id+"/cancel-deletion", nil, http.StatusBadRequest, "KMSInvalidStateException")
	writeErr(t, "kms/keys/"+alias+"/disable", nil, http.StatusBadRequest, "ValidationException")
}

// Keys, aliases and tags survive `vault plugin reload` and a restart of a
// Vault that keeps its data in file storage.
func TestReloadAndRestartKeepData(t *testing.T) {
	dir := t.TempDir()
	v, err := startVault(dev.bin, dev.pluginDir, dir, false)
	require.NoError(t, err)
	t.Cleanup(func() {
		v.stop()
		if t.Failed() {
			v.dumpLog(os.Stderr)
		}
	})
	require.NoError(t, v.registerAndMount("kms"))

	var ids []string
	for _, spec := range []string{"SYMMETRIC_DEFAULT", "RSA_2048", "ECC_SECG_P256K1", "ML_DSA_44", "HMAC_256"} {
		d := cliJSON(t, v, "write", "kms/keys", "key_spec="+spec, "description="+spec, "tags=spec="+spec)
		ids = append(ids, d["key_id"].(string))
	}
	mustCLI(t, v, "write", "kms/aliases/alias/persisted", "target_key_id="+ids[0])
	mustCLI(t, v, "write", "-f", "kms/keys/"+ids[1]+"/disable")
	before := map[string]map[string]any{}
	for _, id := range ids {
		before[id] = cliJSON(t, v, "read", "kms/keys/"+id)
	}

	check := func(stage string) {
		t.Helper()
		for _, id := range ids {
			after := cliJSON(t, v, "read", "kms/keys/"+id)
			require.Equal(t, before[id], after, "%s: key %s changed", stage, id)
			require.Equal(t, map[string]any{"spec": after["key_spec"]}, cliJSON(t, v, "read", "kms/keys/"+id+"/tags")["tags"], stage)
		}
		require.Equal(t, ids[0], cliJSON(t, v, "read", "kms/keys/alias/persisted")["key_id"], stage)
		list := mustCLI(t, v, "list", "kms/keys")
		for _, id := range ids {
			require.Contains(t, list, id, stage)
		}
	}

	out := mustCLI(t, v, "plugin", "reload", "-plugin="+pluginName)
	require.True(t, strings.Contains(out, "Success"), out)
	check("after plugin reload")

	require.NoError(t, v.restart())
	check("after restart")
}
