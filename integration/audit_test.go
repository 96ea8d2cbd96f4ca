package integration

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The audit trail (docs/AUDIT.md): a Vault of its own, so that its audit log
// holds only this session and the tuning touches no other test, with the
// documented tuning and a file audit device; a session through both paths;
// the documented jq filter over the log; and no secret of the session in the
// audit log or the server log.

func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(self))
}

// auditNonHMACKeys reads the one list of fields the mount shows in clear.
func auditNonHMACKeys(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "audit", "non-hmac-keys.txt"))
	require.NoError(t, err)
	defer f.Close()
	var keys []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" && !strings.HasPrefix(l, "#") {
			keys = append(keys, l)
		}
	}
	require.NoError(t, s.Err())
	require.Contains(t, keys, "kms_audit")
	return keys
}

// awsCall posts one AWS JSON 1.1 request to the mount's AWS endpoint.
func awsCall(t *testing.T, v *vaultServer, token, op string, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+v.addr+"/v1/kms/aws", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%s: %s", op, b)
	return resp.StatusCode, out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func awsOK(t *testing.T, v *vaultServer, op string, body map[string]any) map[string]any {
	t.Helper()
	status, out := awsCall(t, v, v.token, op, body)
	require.Equal(t, http.StatusOK, status, "%s: %v", op, out)
	return out
}

// startAuditedVault starts a dev Vault of the test's own with the plugin at
// kms/, tuned as docs/AUDIT.md and scripts/dev.sh do, and a file audit
// device; it returns the server and the audit log's path.
func startAuditedVault(t *testing.T) (*vaultServer, string) {
	t.Helper()
	v, err := startVault(dev.bin, dev.pluginDir, filepath.Join(t.TempDir(), "vault"), true)
	require.NoError(t, err)
	t.Cleanup(v.stop)
	require.NoError(t, v.registerAndMount("kms"))
	c := v.client
	keys := auditNonHMACKeys(t)
	require.NoError(t, c.Sys().TuneMount("kms", api.MountConfigInput{
		AuditNonHMACRequestKeys: keys, AuditNonHMACResponseKeys: keys,
		AllowedResponseHeaders: []string{"X-Kms-Audit", "x-amzn-RequestId"},
	}))
	_, err = c.Logical().Write("sys/config/auditing/request-headers/X-Amz-Target", map[string]any{"hmac": false})
	require.NoError(t, err)
	logPath := filepath.Join(v.dir, "audit.log")
	require.NoError(t, c.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": logPath},
	}))
	return v, logPath
}

func TestAuditTrail(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("jq is needed (scripts/deps.sh installs it)")
	}
	v, logPath := startAuditedVault(t)
	c := v.client

	// eve: a userpass user whom the key policy denies Encrypt and Vault's
	// ACL denies decrypt.
	require.NoError(t, c.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}))
	require.NoError(t, c.Sys().PutPolicy("kms-eve", `
path "kms/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
path "kms/decrypt" { capabilities = ["deny"] }
path "kms/decrypt/*" { capabilities = ["deny"] }`))
	_, err := c.Logical().Write("auth/userpass/users/eve", map[string]any{"password": "pw-eve", "token_policies": "kms-eve"})
	require.NoError(t, err)
	login, err := c.Logical().Write("auth/userpass/login/eve", map[string]any{"password": "pw-eve"})
	require.NoError(t, err)
	eveToken, eveEntity := login.Auth.ClientToken, login.Auth.EntityID
	eve, err := c.Clone()
	require.NoError(t, err)
	eve.SetToken(eveToken)

	w := func(path string, data map[string]any) map[string]any {
		t.Helper()
		s, err := c.Logical().Write(path, data)
		require.NoError(t, err, path)
		return s.Data
	}
	// secrets collects everything that must never be in a log in clear:
	// plaintexts, data keys, private keys, grant tokens, an import token.
	var secrets [][]byte
	secret := func(b64s any) {
		b, err := base64.StdEncoding.DecodeString(b64s.(string))
		require.NoError(t, err)
		secrets = append(secrets, b)
	}

	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{
		// The root token (entity-less) may do anything; eve, whom no
		// statement names, nothing. (A Deny naming eve would refuse the
		// root token too: it could be her.)
		{"Sid": "operator", "Effect": "Allow", "Principal": map[string]any{"Vault": "no_entity"}, "Action": "kms:*", "Resource": "*"},
	}})
	key := w("kms/keys", map[string]any{"alias": "alias/audit", "description": "audit trail", "policy": string(policy)})
	keyID, keyArn := key["key_id"].(string), key["arn"].(string)
	ctx := map[string]any{"purpose": "audit-trail", "tenant": "t-42"}

	// Vault-style paths.
	pt1 := []byte("vault-style plaintext 7f3c")
	secrets = append(secrets, pt1)
	enc := w("kms/encrypt/alias/audit", map[string]any{"plaintext": b64(pt1), "encryption_context": ctx})
	dec := w("kms/decrypt/"+keyID, map[string]any{"ciphertext_blob": enc["ciphertext_blob"], "encryption_context": ctx})
	require.Equal(t, b64(pt1), dec["plaintext"])
	dk := w("kms/data-key/plaintext/"+keyID, map[string]any{"key_spec": "AES_256", "encryption_context": ctx})
	secret(dk["plaintext"])
	pair := w("kms/data-key-pair/plaintext/"+keyID, map[string]any{"key_pair_spec": "ECC_NIST_P256", "encryption_context": ctx})
	secret(pair["private_key_plaintext"])
	signer := w("kms/keys", map[string]any{"key_usage": "SIGN_VERIFY", "key_spec": "ECC_NIST_P256"})
	signerID := signer["key_id"].(string)
	w("kms/sign/"+signerID, map[string]any{"message": b64([]byte("vault-style message")), "signing_algorithm": "ECDSA_SHA_256"})
	grant := w("kms/keys/"+keyID+"/grants", map[string]any{
		"grantee_principal": "entity:" + eveEntity, "operations": "Decrypt", "name": "audit-grant",
		"encryption_context_subset": map[string]any{"tenant": "t-42"}})
	secrets = append(secrets, []byte(grant["grant_token"].(string)))

	// What a user reads holds only the operation's fields: the CLI's output
	// and the JSON body; the event is a response header.
	cliOut := mustCLI(t, v, "write", "-format=json", "kms/encrypt/alias/audit", "plaintext="+b64([]byte("cli")))
	require.Contains(t, cliOut, "ciphertext_blob")
	require.NotContains(t, cliOut, "kms_audit")
	require.NotContains(t, cliOut, "eventName")
	hr, err := c.Logical().ReadRawWithContext(t.Context(), "kms/keys/"+keyID)
	require.NoError(t, err)
	body, err := io.ReadAll(hr.Body)
	hr.Body.Close()
	require.NoError(t, err)
	require.NotContains(t, string(body), "kms_audit")
	require.NotContains(t, string(body), "eventName")
	require.Contains(t, hr.Header.Get("X-Kms-Audit"), `"eventName":"DescribeKey"`)
	// A context beyond ASCII: the header escapes it, the filter restores it.
	intlCtx := map[string]any{"région": "Zürich 東京 😀"}
	w("kms/encrypt/"+keyID, map[string]any{"plaintext": b64(pt1), "encryption_context": intlCtx})

	// A field of the wrong type: refused, and audited as refused.
	_, err = c.Logical().Write("kms/encrypt/"+keyID, map[string]any{"plaintext": b64(pt1), "encryption_context": "not-pairs"})
	requireAWSError(t, err, http.StatusBadRequest, "ValidationException")

	// eve's Vault token: audited HMAC'd, and X-Vault-Token is no audited header.
	secrets = append(secrets, []byte(eveToken))

	// The AWS endpoint.
	pt2 := []byte("aws plaintext 91b2")
	secrets = append(secrets, pt2)
	awsCtx := map[string]any{"purpose": "aws-trail"}
	e2 := awsOK(t, v, "Encrypt", map[string]any{"KeyId": "alias/audit", "Plaintext": b64(pt2), "EncryptionContext": awsCtx})
	awsOK(t, v, "Decrypt", map[string]any{"CiphertextBlob": e2["CiphertextBlob"], "EncryptionContext": awsCtx})
	dk2 := awsOK(t, v, "GenerateDataKey", map[string]any{"KeyId": keyID, "KeySpec": "AES_128", "EncryptionContext": awsCtx})
	secret(dk2["Plaintext"])
	pair2 := awsOK(t, v, "GenerateDataKeyPair", map[string]any{"KeyId": keyID, "KeyPairSpec": "RSA_2048", "EncryptionContext": awsCtx})
	secret(pair2["PrivateKeyPlaintext"])
	awsOK(t, v, "Sign", map[string]any{"KeyId": signerID, "Message": b64([]byte("aws message")), "SigningAlgorithm": "ECDSA_SHA_256"})
	g2 := awsOK(t, v, "CreateGrant", map[string]any{"KeyId": keyID, "GranteePrincipal": "entity:" + eveEntity,
		"Operations": []string{"Decrypt"}, "Name": "aws-grant"})
	secrets = append(secrets, []byte(g2["GrantToken"].(string)))
	external := awsOK(t, v, "CreateKey", map[string]any{"Origin": "EXTERNAL"})["KeyMetadata"].(map[string]any)["KeyId"].(string)
	params := awsOK(t, v, "GetParametersForImport", map[string]any{"KeyId": external,
		"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})
	secret(params["ImportToken"])

	// Refusals: eve by the key policy (both paths) and by Vault's ACL; a
	// disabled key.
	_, err = eve.Logical().Write("kms/encrypt/"+keyID, map[string]any{"plaintext": b64([]byte("eve's")), "encryption_context": ctx})
	requireAWSError(t, err, http.StatusForbidden, "AccessDeniedException")
	status, out := awsCall(t, v, eveToken, "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": b64([]byte("eve's")), "EncryptionContext": awsCtx})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "AccessDeniedException", out["__type"])
	_, err = eve.Logical().Write("kms/decrypt", map[string]any{"ciphertext_blob": enc["ciphertext_blob"]})
	require.ErrorContains(t, err, "permission denied")
	w("kms/keys/"+keyID+"/disable", nil)
	_, err = c.Logical().Write("kms/encrypt/"+keyID, map[string]any{"plaintext": b64(pt1), "encryption_context": ctx})
	requireAWSError(t, err, http.StatusBadRequest, "DisabledException")
	status, out = awsCall(t, v, v.token, "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": b64(pt2), "EncryptionContext": awsCtx})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "DisabledException", out["__type"])

	// The documented filter over the log: the doc shows the file verbatim.
	filter := filepath.Join(repoRoot(), "audit", "cloudtrail.jq")
	require.Contains(t, string(mustRead(t, filepath.Join(repoRoot(), "docs", "AUDIT.md"))), "```jq\n"+string(mustRead(t, filter))+"```")
	cmd := exec.Command("jq", "-c", "-f", filter, logPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outJQ, err := cmd.Output()
	require.NoError(t, err, "jq: %s", stderr.String())
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(outJQ)), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		events = append(events, ev)
	}
	find := func(name, path, errCode string) map[string]any {
		t.Helper()
		for _, ev := range events {
			code, _ := ev["errorCode"].(string)
			if ev["eventName"] == name && ev["vaultPath"] == path && code == errCode {
				return ev
			}
		}
		var names []string
		for _, ev := range events {
			names = append(names, fmt.Sprintf("%v %v %v", ev["eventName"], ev["vaultPath"], ev["errorCode"]))
		}
		require.Failf(t, "no event", "%s on %s with error %q among:\n%s", name, path, errCode, strings.Join(names, "\n"))
		return nil
	}
	rootCaller := func(ev map[string]any) {
		t.Helper()
		require.Equal(t, []any{"root"}, ev["userIdentity"].(map[string]any)["policies"], ev)
		require.Equal(t, "127.0.0.1", ev["sourceIPAddress"], ev)
		require.NotEmpty(t, ev["eventTime"])
	}
	wantCtx := map[string]any{"purpose": "audit-trail", "tenant": "t-42"}
	for _, c := range []struct {
		name, path string
		ctx        map[string]any
		keyArn     string
	}{
		{"Encrypt", "kms/encrypt/alias/audit", wantCtx, keyArn},
		{"Decrypt", "kms/decrypt/" + keyID, wantCtx, keyArn},
		{"GenerateDataKey", "kms/data-key/plaintext/" + keyID, wantCtx, keyArn},
		{"GenerateDataKeyPair", "kms/data-key-pair/plaintext/" + keyID, wantCtx, keyArn},
		{"Sign", "kms/sign/" + signerID, nil, signer["arn"].(string)},
		{"CreateGrant", "kms/keys/" + keyID + "/grants", nil, keyArn},
		{"Encrypt", "kms/aws", map[string]any{"purpose": "aws-trail"}, keyArn},
		{"Decrypt", "kms/aws", map[string]any{"purpose": "aws-trail"}, keyArn},
		{"GenerateDataKey", "kms/aws", map[string]any{"purpose": "aws-trail"}, keyArn},
		{"GenerateDataKeyPair", "kms/aws", map[string]any{"purpose": "aws-trail"}, keyArn},
		{"Sign", "kms/aws", nil, signer["arn"].(string)},
		{"CreateGrant", "kms/aws", nil, keyArn},
	} {
		ev := find(c.name, c.path, "")
		rootCaller(ev)
		require.Equal(t, c.keyArn, ev["keyArn"], "%s %s", c.name, c.path)
		if c.ctx != nil {
			require.Equal(t, c.ctx, ev["encryptionContext"], "%s %s", c.name, c.path)
		}
	}
	require.Equal(t, "ECDSA_SHA_256", find("Sign", "kms/aws", "")["responseElements"].(map[string]any)["SigningAlgorithm"])
	require.Equal(t, "AES_128", find("GenerateDataKey", "kms/aws", "")["requestParameters"].(map[string]any)["KeySpec"])
	require.Equal(t, "audit-grant", find("CreateGrant", "kms/keys/"+keyID+"/grants", "")["requestParameters"].(map[string]any)["name"])
	require.NotEmpty(t, find("CreateGrant", "kms/aws", "")["responseElements"].(map[string]any)["GrantId"])
	require.Equal(t, "RSA_2048", find("GetParametersForImport", "kms/aws", "")["requestParameters"].(map[string]any)["WrappingKeySpec"])

	// eve, refused: by the key policy on both paths, by Vault's ACL.
	for _, ev := range []map[string]any{
		find("Encrypt", "kms/encrypt/"+keyID, "AccessDeniedException"),
		find("Encrypt", "kms/aws", "AccessDeniedException"),
		find("Decrypt", "kms/decrypt", "AccessDeniedException"),
	} {
		id := ev["userIdentity"].(map[string]any)
		require.Equal(t, eveEntity, id["entityId"], ev)
		require.Equal(t, "userpass-eve", id["displayName"], ev)
		require.Equal(t, map[string]any{"username": "eve"}, id["metadata"], ev)
	}
	require.Equal(t, keyArn, find("Encrypt", "kms/aws", "AccessDeniedException")["keyArn"])
	require.Equal(t, map[string]any{"purpose": "aws-trail"}, find("Encrypt", "kms/aws", "AccessDeniedException")["encryptionContext"])
	require.Equal(t, keyArn, find("Encrypt", "kms/encrypt/"+keyID, "DisabledException")["keyArn"])
	require.Equal(t, wantCtx, find("Encrypt", "kms/encrypt/"+keyID, "DisabledException")["encryptionContext"])
	require.Equal(t, keyArn, find("Encrypt", "kms/aws", "DisabledException")["keyArn"])
	rootCaller(find("DisableKey", "kms/keys/"+keyID+"/disable", ""))
	var intl bool
	for _, ev := range events {
		if ev["eventName"] == "Encrypt" && ev["vaultPath"] == "kms/encrypt/"+keyID && ev["errorCode"] == nil {
			intl = intl || assert.ObjectsAreEqual(intlCtx, ev["encryptionContext"])
		}
	}
	require.True(t, intl, "the non-ASCII context is in the log as sent")
	require.Equal(t, "encryption_context must be key=value pairs (an object of strings, or a list of key=value strings)",
		find("Encrypt", "kms/encrypt/"+keyID, "ValidationException")["errorMessage"])

	// The AWS endpoint's raw bodies are HMAC'd whole: the request's secret
	// members and the response body.
	rawBodies := 0
	for _, line := range bytes.Split(bytes.TrimSpace(mustRead(t, logPath)), []byte("\n")) {
		var e struct {
			Type    string
			Request struct {
				Path string
				Data map[string]any
			}
			Response struct{ Data map[string]any }
		}
		require.NoError(t, json.Unmarshal(line, &e))
		if e.Type != "response" || e.Request.Path != "kms/aws" || e.Response.Data == nil {
			continue
		}
		rawBodies++
		require.True(t, strings.HasPrefix(e.Response.Data["http_raw_body"].(string), "hmac-sha256:"), "%v", e.Response.Data)
		for _, m := range []string{"Plaintext", "CiphertextBlob", "Message"} {
			if v, ok := e.Request.Data[m]; ok {
				require.True(t, strings.HasPrefix(v.(string), "hmac-sha256:"), "%s: %v", m, v)
			}
		}
	}
	require.GreaterOrEqual(t, rawBodies, 10)

	// No secret of the session in the audit log or the server log, in any
	// encoding a log could hold it in.
	logs := map[string][]byte{}
	for _, p := range []string{logPath, filepath.Join(v.dir, "vault.log")} {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		logs[filepath.Base(p)] = b
	}
	require.Contains(t, string(logs["audit.log"]), "hmac-sha256:", "the audit log HMACs the secret fields")
	for _, s := range secrets {
		forms := []string{string(s), base64.StdEncoding.EncodeToString(s), base64.RawStdEncoding.EncodeToString(s),
			base64.URLEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), hex.EncodeToString(s)}
		for name, content := range logs {
			for _, f := range forms {
				// JSON escapes "/" and "+" in no way Go's encoder does not, but
				// may escape '+' as \u002b: check the escaped form too.
				esc, _ := json.Marshal(f)
				require.False(t, bytes.Contains(content, []byte(f)) || bytes.Contains(content, esc[1:len(esc)-1]),
					"a secret of the session (%d bytes) is in clear in %s", len(s), name)
			}
		}
	}
}
