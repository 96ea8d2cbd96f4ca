package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// The recognisable secret of these tests: any error, event or log that
// holds it copied a field's value.
const (
	cardSecret = "CARD-4111-1111-1111-1111"
	cardDigits = "4111111111111111"
)

// requireNoCard fails if s holds the card secret: its text, its digits or
// a run of them. Not "4111" alone: key ids, request ids and HMACs are hex,
// and a four-digit run turns up in them by chance.
func requireNoCard(t *testing.T, s string, msgAndArgs ...any) {
	t.Helper()
	for _, b := range []string{"CARD-", "4111-1111", cardDigits} {
		require.NotContains(t, s, b, msgAndArgs...)
	}
}

// A field of the wrong type, for every field type the plugin's schemas
// decode, is a 400 ValidationException naming the field and the type it
// takes (never the value), on every way a Vault-style request reaches a
// handler (plain, through an existence check, a batch item); the audit
// event records the error. The framework answered these with an error
// response, which the audit event turned into a 200 with data.error.
func TestWrongFieldTypeIsValidationException(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	ext := tb.createKey(map[string]any{"origin": "EXTERNAL"})
	secret := map[string]any{"card": cardSecret}
	cases := []struct {
		op          logical.Operation
		path, field string
		value       any
		want        framework.FieldType
	}{
		{logical.UpdateOperation, "encrypt/" + id, "plaintext", secret, framework.TypeString},
		{logical.UpdateOperation, "encrypt/" + id, "plaintext", []any{cardSecret}, framework.TypeString},
		{logical.UpdateOperation, "encrypt/" + id, "encryption_context", cardSecret, framework.TypeKVPairs},
		{logical.UpdateOperation, "keys/" + id + "/schedule-deletion", "pending_window_days", "abc" + cardSecret, framework.TypeInt},
		{logical.UpdateOperation, "encrypt/" + id, "dry_run", cardSecret, framework.TypeBool},
		{logical.UpdateOperation, "encrypt/" + id, "grant_tokens", []any{secret}, framework.TypeCommaStringSlice},
		{logical.UpdateOperation, "keys/" + id + "/grants", "operations", []any{secret}, framework.TypeCommaStringSlice},
		{logical.UpdateOperation, "config", "data_key_pair_pool", cardSecret, framework.TypeKVPairs},
		{logical.UpdateOperation, "keys/" + ext + "/import", "encrypted_key_material", secret, framework.TypeString},
		// aliases/<name> has an existence check, which decodes the fields first.
		{logical.UpdateOperation, "aliases/alias/x", "target_key_id", secret, framework.TypeString},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s %s %s=%v", c.op, c.path, c.field, c.value)
		resp, err := tb.do(c.op, c.path, map[string]any{c.field: c.value})
		ke := requireKMSError(t, err, kmserr.Validation)
		require.Equal(t, http.StatusBadRequest, ke.Code(), name)
		require.Equal(t, c.field+" must be "+fieldTypeNames[c.want], ke.Msg, name)
		requireNoCard(t, ke.Error(), name)
		ev := auditOf(t, resp)
		require.Equal(t, kmserr.Validation, ev.ErrorCode, name)
		require.Equal(t, ke.Msg, ev.ErrorMessage, name)
		if !auditNonHMACKeys[c.field] { // the others are in clear by design
			requireNoCard(t, auditRaw(t, resp), name)
		}
	}

	// The AWS endpoint names the member the client sent.
	for member, v := range map[string]any{"Plaintext": secret, "EncryptionContext": cardSecret, "GrantTokens": []any{secret}} {
		body := map[string]any{"KeyId": id, "Plaintext": "aGk=", member: v}
		msg := tb.awsFails(kmserr.Validation, "", "Encrypt", body)
		require.True(t, strings.HasPrefix(msg, member+" must be "), msg)
		requireNoCard(t, msg)
	}

	// A batch item: refused alone, named by its index.
	out := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": []any{
		map[string]any{"plaintext": secret}, map[string]any{"plaintext": "aGVsbG8="}}})
	items := out["batch_results"].([]map[string]any)
	require.Equal(t, kmserr.Validation, items[0]["error_type"])
	require.Contains(t, items[0]["error"], "batch item 0: plaintext must be a string")
	requireNoCard(t, fmt.Sprint(items[0]["error"]))
	require.Contains(t, items[1], "ciphertext_blob")
}

// Every field type the plugin's schemas use has a name for its error.
func TestEveryFieldTypeIsNamed(t *testing.T) {
	tb := newTestBackend(t)
	for _, p := range tb.Paths {
		for name, f := range p.Fields {
			require.NotEmpty(t, fieldTypeNames[f.Type], "%s: field %s of type %s", p.Pattern, name, f.Type)
		}
	}
}

// secretMembers are the AWS request members that carry a secret or a
// credential, whose values must never reach an error, an audit event or a
// log.
var secretMembers = []string{"Plaintext", "CiphertextBlob", "Message", "Signature", "Mac", "GrantTokens", "GrantToken",
	"EncryptedKeyMaterial", "ImportToken", "SharedSecretCiphertextBlob", "PublicKey", "KeyStorePassword"}

// malformed are the ways of sending a field that the framework's decoding
// or the plugin's base64 decoding refuses, each holding the secret.
var malformed = map[string]any{
	"list":   []any{cardSecret},
	"object": map[string]any{"card": cardSecret},
	"number": json.Number(cardDigits),
	"base64": cardSecret + "!",
	"nested": []any{map[string]any{"card": cardSecret}},
}

// A recognisable secret in every secret member of every operation,
// malformed in every way, on the AWS endpoint and on the Vault-style path
// of the same operation: neither the answer nor the audit event nor the
// plugin's log holds it. The framework's conversion error quoted the value
// ("..., value: '[CARD-4111...]'"), and became kms_audit's errorMessage.
func TestMalformedSecretNeverCopied(t *testing.T) {
	var log syncBuffer
	tb := newLoggedTestBackend(t, &log)
	id := tb.createKey(nil)
	names := make([]string, 0, len(awsapi.Operations))
	for name := range awsapi.Operations {
		names = append(names, name)
	}
	sort.Strings(names)
	tried := 0
	for _, name := range names {
		op := awsapi.Operations[name]
		for _, member := range secretMembers {
			if !containsString(op.Members, member) {
				continue
			}
			for how, v := range malformed {
				label := fmt.Sprintf("%s %s as %s", name, member, how)
				tried++
				// The AWS endpoint.
				body := map[string]any{member: v}
				if containsString(op.Members, "KeyId") && member != "KeyId" {
					body["KeyId"] = id
				}
				resp, err := tb.HandleRequest(context.Background(), &logical.Request{Operation: logical.UpdateOperation,
					Path: "aws/" + name, Data: body, Storage: tb.storage})
				require.NoError(t, err, label)
				requireNoCard(t, string(resp.Data[logical.HTTPRawBody].([]byte)), label)
				requireNoCard(t, auditRaw(t, resp), label)

				// The Vault-style path of the operation.
				field := awsMemberField(member)
				path := strings.NewReplacer(":key", id, ":name", "alias/x", ":grant_id", strings.Repeat("a", 64)).Replace(op.Route)
				resp, err = tb.HandleRequest(context.Background(), &logical.Request{Operation: op.Op, Path: path,
					Data: map[string]any{field: v}, Storage: tb.storage})
				if err != nil {
					requireNoCard(t, err.Error(), label)
				}
				if resp != nil {
					requireNoCard(t, fmt.Sprint(resp.Data), label)
					requireNoCard(t, auditRaw(t, resp), label)
				}
			}
		}
	}
	require.Greater(t, tried, 60)
	requireNoCard(t, log.String())
}

// newLoggedTestBackend is a test backend whose log goes to w.
func newLoggedTestBackend(t *testing.T, w io.Writer) *testBackend {
	conf := logical.TestBackendConfig()
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Trace})
	conf.StorageView = &logical.InmemStorage{}
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	return &testBackend{backend: raw.(*backend), t: t, storage: conf.StorageView}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// awsMemberField is the Vault-style field a member becomes.
func awsMemberField(member string) string {
	out := map[string]any{}
	if f, ok := awsapi.Members[member]; ok && f("eA==", out) == nil { // base64, for ImportToken
		for k := range out {
			return k
		}
	}
	return member
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quotedByDesign are the fields whose value an error may name: references
// to keys, aliases, grants and principals, which say what was not found
// or not allowed (as AWS's messages do), never a secret.
var quotedByDesign = map[string]bool{"key_id": true, "target_key_id": true, "source_key_id": true, "destination_key_id": true,
	"alias": true, "name": true, "grant_id": true, "grantee_principal": true, "retiring_principal": true}

// No error of any operation quotes the value of a field (the references
// of quotedByDesign apart): a recognisable value in each string field of
// each path, alone in the request.
func TestErrorsNeverQuoteFieldValues(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	const value = "ZZVALUEZZ"
	tried := 0
	for _, p := range tb.Paths {
		route := routeOf(p.Pattern)
		path := strings.NewReplacer("{key_id}", id, "{name}", "alias/x", "{grant_id}", strings.Repeat("a", 64),
			"{operation}", "Encrypt").Replace(route)
		for op := range p.Operations {
			if op == logical.ReadOperation || op == logical.ListOperation || op == logical.DeleteOperation {
				continue
			}
			for name, f := range p.Fields {
				if quotedByDesign[name] || strings.Contains(route, "{"+name+"}") ||
					(f.Type != framework.TypeString && f.Type != framework.TypeCommaStringSlice) {
					continue
				}
				tried++
				_, err := tb.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path,
					Storage: tb.storage, Data: map[string]any{name: value}})
				if err != nil {
					require.NotContains(t, err.Error(), value, "%s %s %s", op, route, name)
				}
			}
		}
	}
	require.Greater(t, tried, 60)
}

// The map fields (tags, data_key_pair_pool) are not references either: a
// refused tag or pool entry is named by what is wrong with it, never by
// its key or value.
func TestMapFieldErrorsNeverQuoteValues(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	const value = "ZZVALUEZZ"
	for _, tags := range []map[string]any{
		{"aws:" + value: "v"}, {value + "\x00": "v"}, {value + strings.Repeat("k", 128): "v"},
		{"k": value + "\x00"}, {"k": value + strings.Repeat("v", 256)},
	} {
		for _, c := range []struct {
			path string
			data map[string]any
		}{{"keys", map[string]any{"tags": tags}}, {"keys/" + id + "/tags", map[string]any{"tags": tags}}} {
			ke := tb.fails(kmserr.Tag, logical.UpdateOperation, c.path, c.data)
			require.NotContains(t, ke.Error(), value, c.path)
		}
	}
	ke := tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{value: "1"}})
	require.NotContains(t, ke.Error(), value)
}
