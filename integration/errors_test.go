package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// A field of the wrong type on a Vault-style path is refused, 400
// ValidationException naming the field and its type, and `vault write`
// exits non-zero; it was answered 200 with data.error, and the CLI
// exited 0.
func TestWrongFieldTypeIs400(t *testing.T) {
	id := write(t, "kms/keys", nil).Data["key_id"].(string)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kms/keys/" + id + "/schedule-deletion", "pending_window_days=abc"}, "pending_window_days must be an integer"},
		{[]string{"kms/encrypt/" + id, "plaintext=aGk=", "encryption_context=x"}, "encryption_context must be key=value pairs"},
		{[]string{"kms/encrypt/" + id, "plaintext=aGk=", "dry_run=perhaps"}, "dry_run must be a boolean"},
	} {
		out, errOut, err := dev.cli(append([]string{"write"}, c.args...)...)
		require.Error(t, err, "vault write %v: %s", c.args, out)
		require.Contains(t, errOut, "Code: 400", c.args)
		require.Contains(t, errOut, "ValidationException: "+c.want, c.args)
		require.NotContains(t, errOut, "abc", c.args)
		require.NotContains(t, errOut, "perhaps", c.args)
	}
	require.Equal(t, "Enabled", read(t, "kms/keys/"+id).Data["key_state"], "the refused schedule-deletion did nothing")

	// Through the HTTP API, with JSON types the CLI cannot send.
	for field, v := range map[string]any{
		"plaintext":    map[string]any{"card": "CARD-4111-1111-1111-1111"},
		"grant_tokens": []any{map[string]any{"t": "CARD-4111-1111-1111-1111"}},
	} {
		_, err := dev.client.Logical().Write("kms/encrypt/"+id, map[string]any{"plaintext": "aGk=", field: v})
		requireAWSError(t, err, http.StatusBadRequest, "ValidationException")
		require.Contains(t, err.Error(), field+" must be ")
		require.NotContains(t, err.Error(), "CARD-")
	}
}

// The secret-carrying members of each operation (from the AWS shapes),
// with the Vault-style path and field of the same operation. Reads (a
// query string holds only strings) are tried on the AWS endpoint only.
var secretFieldOps = []struct {
	op, path string
	members  map[string]string // AWS member: Vault-style field
}{
	{"CreateGrant", "keys/:key/grants", map[string]string{"GrantTokens": "grant_tokens"}},
	{"Decapsulate", "decapsulate/:key", map[string]string{"GrantTokens": "grant_tokens", "SharedSecretCiphertextBlob": "shared_secret_ciphertext_blob"}},
	{"Decrypt", "decrypt", map[string]string{"CiphertextBlob": "ciphertext_blob", "GrantTokens": "grant_tokens"}},
	{"DeriveSharedSecret", "derive-shared-secret/:key", map[string]string{"GrantTokens": "grant_tokens", "PublicKey": "public_key"}},
	{"DescribeKey", "", map[string]string{"GrantTokens": ""}},
	{"Encapsulate", "encapsulate/:key", map[string]string{"GrantTokens": "grant_tokens"}},
	{"Encrypt", "encrypt/:key", map[string]string{"Plaintext": "plaintext", "GrantTokens": "grant_tokens"}},
	{"GenerateDataKey", "data-key/plaintext/:key", map[string]string{"GrantTokens": "grant_tokens"}},
	{"GenerateDataKeyPair", "data-key-pair/plaintext/:key", map[string]string{"GrantTokens": "grant_tokens"}},
	{"GenerateDataKeyPairWithoutPlaintext", "data-key-pair/wrapped/:key", map[string]string{"GrantTokens": "grant_tokens"}},
	{"GenerateDataKeyWithoutPlaintext", "data-key/wrapped/:key", map[string]string{"GrantTokens": "grant_tokens"}},
	{"GenerateMac", "generate-mac/:key", map[string]string{"Message": "message", "GrantTokens": "grant_tokens"}},
	{"GetPublicKey", "", map[string]string{"GrantTokens": ""}},
	{"ImportKeyMaterial", "keys/:key/import", map[string]string{"EncryptedKeyMaterial": "encrypted_key_material", "ImportToken": "import_token"}},
	{"ReEncrypt", "re-encrypt/:key", map[string]string{"CiphertextBlob": "ciphertext_blob", "GrantTokens": "grant_tokens"}},
	{"RetireGrant", "grants/retire", map[string]string{"GrantToken": "grant_token"}},
	{"Sign", "sign/:key", map[string]string{"Message": "message", "GrantTokens": "grant_tokens"}},
	{"Verify", "verify/:key", map[string]string{"Message": "message", "Signature": "signature", "GrantTokens": "grant_tokens"}},
	{"VerifyMac", "verify-mac/:key", map[string]string{"Message": "message", "Mac": "mac", "GrantTokens": "grant_tokens"}},
}

// A recognisable secret in every secret field of every operation,
// malformed in every way the decoders report (a list, an object, a list
// of objects, a number, bad base64), through the AWS endpoint and the
// Vault-style path (a batch item too), with the audit device and tuning
// of `make dev`: the secret is in neither the audit log nor the server
// log. A conversion error quoted the value, and the AWS endpoint's error
// became kms_audit's errorMessage, in clear.
func TestMalformedSecretNeverLogged(t *testing.T) {
	const secret, digits = "CARD-4111-1111-1111-1111", "4111111111111111"
	// What would betray the secret: its text, its digits, a run of it. Not
	// "4111" alone: request ids and HMACs are hex, and a four-digit run
	// turns up in them by chance (it failed a run that way).
	betrays := []string{"CARD-", "4111-1111", digits}
	leaks := func(s string) bool {
		for _, b := range betrays {
			if strings.Contains(s, b) {
				return true
			}
		}
		return false
	}
	v, logPath := startAuditedVault(t)
	c := v.client
	s, err := c.Logical().Write("kms/keys", nil)
	require.NoError(t, err)
	key := s.Data["key_id"].(string)
	malformed := map[string]any{
		"list": []any{secret}, "object": map[string]any{"card": secret}, "objects": []any{map[string]any{"card": secret}},
		"number": json.Number(digits), "base64": secret + "!",
	}
	statuses := map[int]int{}
	for _, o := range secretFieldOps {
		for member, field := range o.members {
			for how, bad := range malformed {
				label := fmt.Sprintf("%s %s as %s", o.op, member, how)
				status, out := awsCall(t, v, v.token, o.op, map[string]any{"KeyId": key, member: bad})
				require.False(t, leaks(fmt.Sprint(out)), label)
				statuses[status]++
				if o.path == "" {
					continue
				}
				path := "kms/" + strings.ReplaceAll(o.path, ":key", key)
				_, err := c.Logical().Write(path, map[string]any{field: bad})
				if err != nil {
					require.False(t, leaks(err.Error()), label)
					var re *api.ResponseError
					require.ErrorAs(t, err, &re, label)
					require.Less(t, re.StatusCode, 500, "%s: %v", label, err)
				}
			}
		}
	}
	require.Zero(t, statuses[http.StatusInternalServerError], "%v", statuses)
	// A batch item.
	s, err = c.Logical().Write("kms/encrypt/"+key, map[string]any{"batch_input": []any{map[string]any{"plaintext": malformed["object"]}}})
	require.NoError(t, err)
	require.False(t, leaks(fmt.Sprint(s.Data)))

	audit := mustRead(t, logPath)
	require.Greater(t, bytes.Count(audit, []byte(`"type":"response"`)), 150, "the attempts are audited")
	for name, content := range map[string][]byte{"audit log": audit, "server log": mustRead(t, filepath.Join(v.dir, "vault.log"))} {
		for _, f := range betrays {
			i := bytes.Index(content, []byte(f))
			if i >= 0 {
				require.Failf(t, "secret in a log", "%s holds %q: ...%s...", name, f, content[max(0, i-300):min(len(content), i+100)])
			}
		}
	}
}

// A storage fault is a 5xx on both paths: a raft node whose max_entry_size
// is smaller than a CreateKey's entry refuses the write, which the
// Vault-style path answered 400 (a response, the audit event, went with
// the error) and the AWS endpoint 500 KMSInternalException.
func TestStorageFaultIs5xx(t *testing.T) {
	cl := startClusterWith(t, 1, "  max_entry_size = 32768\n")
	n := cl.active()
	// A key policy near AWS's 32 KB limit: its key's entry is larger than
	// a raft entry may be.
	stmts := []map[string]any{{"Sid": "root", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::000000000000:root"},
		"Action": "kms:*", "Resource": "*"}}
	for i := 0; len(stmts) < 190; i++ {
		stmts = append(stmts, map[string]any{"Sid": fmt.Sprintf("deny%04d", i), "Effect": "Deny",
			"Principal": map[string]any{"AWS": fmt.Sprintf("arn:aws:iam::000000000000:user/nobody-%04d", i)},
			"Action":    "kms:Decrypt", "Resource": "*"})
	}
	policy, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	require.NoError(t, err)
	require.Greater(t, len(policy), 24<<10)
	desc := strings.Repeat("d", 8000)

	// A small key works: the node itself is fine.
	_, err = n.client.Logical().Write("kms/keys", nil)
	require.NoError(t, err)

	_, err = n.client.Logical().Write("kms/keys", map[string]any{"policy": string(policy), "description": desc})
	require.Error(t, err)
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	require.GreaterOrEqual(t, re.StatusCode, 500, "Vault-style CreateKey: %v", err)
	require.Contains(t, err.Error(), "KMSInternalException")

	body, err := json.Marshal(map[string]any{"Policy": string(policy), "Description": desc})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+n.addr+"/v1/kms/aws", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	req.Header.Set("X-Vault-Token", cl.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.GreaterOrEqual(t, resp.StatusCode, 500, "AWS CreateKey: %s", out)
	require.Contains(t, string(out), "KMSInternalException")
}
