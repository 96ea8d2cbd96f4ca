package kms

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// auditOf is the audit event attached to resp: the X-Kms-Audit header, or
// on the AWS endpoint's raw response the kms_audit field.
func auditOf(t *testing.T, resp *logical.Response) auditEvent {
	t.Helper()
	raw := auditRaw(t, resp)
	var ev auditEvent
	require.NoError(t, json.Unmarshal([]byte(raw), &ev))
	return ev
}

func auditRaw(t *testing.T, resp *logical.Response) string {
	t.Helper()
	require.NotNil(t, resp, "no response, so no audit event")
	if _, ok := resp.Data[logical.HTTPRawBody]; ok {
		raw, ok := resp.Data[auditField].(string)
		require.True(t, ok, "no %s in the raw response %v", auditField, resp.Data)
		return raw
	}
	require.NotContains(t, resp.Data, auditField, "the event is in the response data a user reads")
	h := resp.Headers[auditHeader]
	require.Len(t, h, 1, "no %s header in %v", auditHeader, resp.Headers)
	return h[0]
}

// Every Vault-style path serving an AWS operation names that operation in
// kms_audit, as the AWS endpoint does.
func TestAuditEventNameOfEveryRoute(t *testing.T) {
	tb := newTestBackend(t)
	for name, op := range awsapi.Operations {
		path := strings.NewReplacer(":key", "1234abcd-12ab-34cd-56ef-1234567890ab", ":name", "alias/x", ":grant_id", "g1").Replace(op.Route)
		got := tb.auditEventName(&logical.Request{Operation: op.Op, Path: path})
		require.Equal(t, name, got, "%s %s", op.Op, path)
	}
	require.Equal(t, "Decrypt", tb.auditEventName(&logical.Request{Operation: logical.UpdateOperation, Path: "decrypt/alias/x"}))
	require.Equal(t, "CreateAlias", tb.auditEventName(&logical.Request{Operation: logical.CreateOperation, Path: "aliases/alias/x"}))
	require.Equal(t, "CreateKey", tb.auditEventName(&logical.Request{Operation: logical.CreateOperation, Path: "keys"}))
	require.Empty(t, tb.auditEventName(&logical.Request{Operation: logical.ReadOperation, Path: "config"}))
}

// kms_audit carries the operation, key, context, algorithms and errors of
// both paths, and none of the secrets.
func TestAuditFieldHoldsNoSecret(t *testing.T) {
	tb := newTestBackend(t)
	key := tb.ok(logical.UpdateOperation, "keys", map[string]any{"alias": "alias/a"})
	id := key["key_id"].(string)
	ctx := map[string]any{"app": "billing"}
	pt := base64.StdEncoding.EncodeToString([]byte("secret plaintext"))

	encResp, err := tb.do(logical.UpdateOperation, "encrypt/alias/a", map[string]any{"plaintext": pt, "encryption_context": ctx})
	require.NoError(t, err)
	enc := encResp.Data
	ev := auditOf(t, encResp)
	require.Equal(t, "Encrypt", ev.EventName)
	require.Equal(t, key["arn"], ev.KeyArn)
	require.Equal(t, ctx, ev.RequestParameters["encryption_context"])
	require.Equal(t, "alias/a", ev.RequestParameters["key_id"])
	require.Equal(t, "SYMMETRIC_DEFAULT", ev.ResponseElements["encryption_algorithm"])

	dkResp, err := tb.do(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
	require.NoError(t, err)
	dk := dkResp.Data
	for _, secret := range []string{pt, enc["ciphertext_blob"].(string), dk["plaintext"].(string), dk["ciphertext_blob"].(string)} {
		require.NotContains(t, auditRaw(t, encResp), secret)
		require.NotContains(t, auditRaw(t, dkResp), secret)
	}

	// The AWS endpoint: the raw body's members, and the error type.
	body, _ := json.Marshal(map[string]any{"KeyId": id, "Plaintext": pt, "EncryptionContext": ctx})
	var data map[string]any
	require.NoError(t, json.Unmarshal(body, &data))
	resp, err := tb.HandleRequest(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: "aws/Encrypt", Data: data, Storage: tb.storage})
	require.NoError(t, err)
	ev = auditOf(t, resp)
	require.Equal(t, "Encrypt", ev.EventName)
	require.Equal(t, key["arn"], ev.KeyArn)
	require.Equal(t, ctx, ev.RequestParameters["EncryptionContext"])
	require.NotContains(t, resp.Data[auditField], pt)
	require.NotContains(t, resp.Data[auditField], "CiphertextBlob")

	// CreateKey names its key only in the response's KeyMetadata.
	resp, err = tb.HandleRequest(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: "aws/CreateKey",
		Data: map[string]any{"Description": "via AWS"}, Storage: tb.storage})
	require.NoError(t, err)
	var created map[string]any
	require.NoError(t, json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &created))
	require.Equal(t, created["KeyMetadata"].(map[string]any)["Arn"], auditOf(t, resp).KeyArn)

	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	resp, err = tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
	require.Error(t, err)
	ev = auditOf(t, resp)
	require.Equal(t, kmserr.Disabled, ev.ErrorCode)
	require.Equal(t, key["arn"], ev.KeyArn)
	resp, err = tb.HandleRequest(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: "aws/Encrypt", Data: data, Storage: tb.storage})
	require.NoError(t, err)
	require.Equal(t, kmserr.Disabled, auditOf(t, resp).ErrorCode)
}

// The header is printable ASCII (HTTP clients refuse control characters in
// a header, and many mangle other bytes) and valid JSON holding the same
// event; an event too large for a header keeps its name, key and error.
func TestAuditHeaderValue(t *testing.T) {
	ev := auditEvent{EventName: "Encrypt", KeyArn: "arn:k", ErrorCode: kmserr.Disabled,
		RequestParameters: map[string]any{"encryption_context": map[string]any{"app": "naïve \x7f 😀 \u2028"}}}
	js, err := auditJSON(ev)
	require.NoError(t, err)
	for _, c := range []byte(js) {
		require.True(t, c >= 0x20 && c < 0x7f, "byte %#x in %s", c, js)
	}
	var back auditEvent
	require.NoError(t, json.Unmarshal([]byte(js), &back))
	require.Equal(t, ev, back)

	ev.RequestParameters = map[string]any{"policy": strings.Repeat("p", maxAuditHeader)}
	js, err = auditJSON(ev)
	require.NoError(t, err)
	require.LessOrEqual(t, len(js), maxAuditHeader)
	var cut auditEvent
	require.NoError(t, json.Unmarshal([]byte(js), &cut))
	require.Equal(t, auditEvent{EventName: "Encrypt", KeyArn: "arn:k", ErrorCode: kmserr.Disabled, Truncated: true}, cut)
}

// An error message can be as long as the input it names (a policy's
// 30 KB Action is quoted by MalformedPolicyDocumentException), and each
// non-ASCII character of it is six bytes in the header: the header stays
// under maxAuditHeader whatever the message, which is cut, not dropped.
func TestAuditHeaderCapHoldsForLongErrors(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", nil)["key_id"].(string)
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:` +
		strings.Repeat("é", 12000) + `","Resource":"*"}]}`
	resp, err := tb.do(logical.UpdateOperation, "keys/"+id+"/policy", map[string]any{"policy": doc})
	requireKMSError(t, err, "MalformedPolicyDocumentException")
	raw := auditRaw(t, resp)
	require.LessOrEqual(t, len(raw), maxAuditHeader)
	ev := auditOf(t, resp)
	require.Equal(t, "MalformedPolicyDocumentException", ev.ErrorCode)
	require.True(t, ev.Truncated)
	require.Contains(t, ev.ErrorMessage, "Statement[0].Action")
}
