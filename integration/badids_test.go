package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/awsvault"
)

// awsRaw sends one AWS JSON 1.1 request to the shared dev Vault and
// returns the status and the decoded body.
func awsRaw(t *testing.T, op string, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, awsvault.Endpoint("http://"+dev.addr, "kms"), strings.NewReader(string(raw)))
	require.NoError(t, err)
	req.Header.Set("X-Vault-Token", dev.token)
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out), op)
	return resp.StatusCode, out
}

// Issue 18: ids with a ".." segment reached Vault's storage, which refuses
// them (relative paths not supported), and came back as a 500
// KMSInternalException on the AWS endpoint and as a 400 without an
// exception name on the Vault-style paths. Through a real Vault they are
// now the AWS exception AWS would answer.
func TestBadKeyIDsBothPaths(t *testing.T) {
	id := write(t, "kms/keys", nil).Data["key_id"].(string)
	grant := strings.Repeat("0", 64)
	for _, bad := range []string{"..", "../", "a/..", "../../sys/seal", "alias/.."} {
		for _, c := range []struct {
			op   string
			body map[string]any
			exc  string
		}{
			{"RevokeGrant", map[string]any{"KeyId": bad, "GrantId": grant}, "NotFoundException"},
			{"RevokeGrant", map[string]any{"KeyId": id, "GrantId": bad}, "InvalidGrantIdException"},
			{"RetireGrant", map[string]any{"KeyId": bad, "GrantId": grant}, "NotFoundException"},
			{"DescribeKey", map[string]any{"KeyId": bad}, "NotFoundException"},
			{"Encrypt", map[string]any{"KeyId": bad, "Plaintext": "aGk="}, "NotFoundException"},
			{"ReEncrypt", map[string]any{"CiphertextBlob": "aGk=", "DestinationKeyId": bad}, ""},
			{"CreateAlias", map[string]any{"AliasName": "alias/" + unique("bad"), "TargetKeyId": bad}, ""},
			{"RotateKeyOnDemand", map[string]any{"KeyId": bad}, ""},
		} {
			status, out := awsRaw(t, c.op, c.body)
			require.Equal(t, http.StatusBadRequest, status, "%s %v: %v", c.op, c.body, out)
			require.NotEqual(t, "KMSInternalException", out["__type"], "%s %v", c.op, c.body)
			if c.exc != "" {
				require.Equal(t, c.exc, out["__type"], "%s %v: %v", c.op, c.body, out)
			} else {
				require.NotEmpty(t, out["__type"])
			}
		}
		// The Vault-style paths that take the id in the body.
		writeErr(t, "kms/grants/retire", map[string]any{"key_id": bad, "grant_id": grant}, http.StatusNotFound, "NotFoundException")
		writeErr(t, "kms/decrypt", map[string]any{"key_id": bad, "ciphertext_blob": "aGk="}, http.StatusNotFound, "NotFoundException")
		writeErr(t, "kms/aliases/alias/"+unique("bad"), map[string]any{"target_key_id": bad}, http.StatusNotFound, "NotFoundException")
		writeErr(t, "kms/grants/retire", map[string]any{"key_id": id, "grant_id": bad}, http.StatusBadRequest, "InvalidGrantIdException")
	}
}
