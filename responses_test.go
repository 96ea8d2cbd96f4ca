package kms

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// schemaCoverage records, per backend, the route and operation of every
// successful response validated against its OpenAPI schema.
var schemaCoverage = struct {
	sync.Mutex
	m map[*backend]map[string]bool
}{m: map[*backend]map[string]bool{}}

// validateResponseSchema checks a successful response against the schema
// its path publishes, in strict mode: a field the schema does not declare,
// or a value of another type, fails the test. Items of batch_results are
// checked against the single form's fields too. The test helpers (tb.do,
// tb.as) call it for every request, so every unit test validates.
func validateResponseSchema(t testing.TB, b *backend, req *logical.Request, resp *logical.Response, err error) {
	t.Helper()
	if err != nil || (resp != nil && resp.IsError()) || req.Operation == logical.HelpOperation {
		return
	}
	route := b.Route(req.Path)
	if route == nil {
		t.Fatalf("no route for %s", req.Path)
	}
	tt, ok := t.(*testing.T)
	if !ok {
		return // benchmarks
	}
	rs := schema.GetResponseSchema(tt, route, req.Operation)
	schema.ValidateResponse(tt, rs, resp, true)
	if resp != nil {
		if items, ok := resp.Data["batch_results"].([]map[string]any); ok {
			validateBatchItems(tt, rs, items)
		}
	}
	schemaCoverage.Lock()
	defer schemaCoverage.Unlock()
	if schemaCoverage.m[b] == nil {
		schemaCoverage.m[b] = map[string]bool{}
	}
	schemaCoverage.m[b][coverageKey(routeOf(route.Pattern), req.Operation)] = true
}

func coverageKey(route string, op logical.Operation) string { return string(op) + " " + route }

// validateBatchItems: a batch item is an error (error, error_type) or the
// single form's result.
func validateBatchItems(t *testing.T, rs *framework.Response, items []map[string]any) {
	t.Helper()
	single := &framework.Response{Fields: map[string]*framework.FieldSchema{}}
	for k, v := range rs.Fields {
		if k != "batch_results" {
			single.Fields[k] = v
		}
	}
	for i, it := range items {
		if _, isErr := it["error"]; isErr {
			require.ElementsMatch(t, []string{"error", "error_type"}, keysOf(it), "batch item %d", i)
			continue
		}
		schema.ValidateResponseData(t, single, it, true)
	}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestResponsesCoverEveryOperation(t *testing.T) {
	b := newBackend()
	require.NoError(t, attachResponses(b.Paths))
	for _, p := range b.Paths {
		for op, h := range p.Operations {
			rs := h.Properties().Responses
			require.Len(t, rs, 1, "%s %s", op, p.Pattern)
			for status, list := range rs {
				require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, status)
				require.Len(t, list, 1)
				require.NotEmpty(t, list[0].Description, "%s %s", op, p.Pattern)
				if status == http.StatusOK && list[0].MediaType == "" {
					require.NotEmpty(t, list[0].Fields, "%s %s", op, p.Pattern)
				}
				for name, f := range list[0].Fields {
					require.NotEmpty(t, f.Description, "%s %s: %s", op, p.Pattern, name)
				}
			}
		}
	}
}

// A path or operation added without a response schema fails Factory.
func TestResponsesRefuseMissingEntries(t *testing.T) {
	b := newBackend()
	extra := &framework.Path{Pattern: "keys/" + keyIDRef + "/frobnicate$", Operations: map[logical.Operation]framework.OperationHandler{
		logical.UpdateOperation: &framework.PathOperation{Callback: b.pathKeyEnable}}}
	err := attachResponses(append(b.Paths, extra))
	require.ErrorContains(t, err, "path keys/{key_id}/frobnicate")

	b = newBackend()
	for _, p := range b.Paths {
		if routeOf(p.Pattern) == "config" {
			p.Operations[logical.DeleteOperation] = &framework.PathOperation{Callback: b.pathConfigRead}
		}
	}
	require.ErrorContains(t, attachResponses(b.Paths), "delete config has no response")

	old := responseTable["random"]
	responseTable["random"] = map[logical.Operation]opResponse{logical.UpdateOperation: okResp("x", fieldList("no_such_field"))}
	defer func() { responseTable["random"] = old }()
	require.ErrorContains(t, attachResponses(newBackend().Paths), `response field "no_such_field"`)
}

func TestRouteOf(t *testing.T) {
	for pattern, want := range map[string]string{
		"keys/?$":                            "keys",
		"keys/" + keyRef + "$":               "keys/{key_id}",
		"keys/" + keyIDRef + "/grants/?$":    "keys/{key_id}/grants",
		"aws(?:/(?P<operation>[A-Za-z]+))?$": "aws/{operation}",
	} {
		require.Equal(t, want, routeOf(pattern), pattern)
	}
}

// A response field that is also a request field shares its description.
func TestResponseFieldsShareRequestDescriptions(t *testing.T) {
	for name, shared := range map[string]*framework.FieldSchema{"key_id": fieldKeyID, "tags": fieldTags, "policy": fieldPolicy} {
		f, err := responseField(name)
		require.NoError(t, err)
		require.Equal(t, shared.Description, f.Description)
		require.Equal(t, shared.Type, f.Type)
	}
}

// openAPI returns the backend's OpenAPI document, as Vault serves it at
// sys/internal/specs/openapi.
func openAPI(t *testing.T) *framework.OASDocument {
	t.Helper()
	conf := logical.TestBackendConfig()
	conf.StorageView = &logical.InmemStorage{}
	conf.System = &logical.StaticSystemView{PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "v1.21.0"}}
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	resp, err := raw.HandleRequest(context.Background(), &logical.Request{Operation: logical.HelpOperation, Storage: conf.StorageView})
	require.NoError(t, err)
	doc, ok := resp.Data["openapi"].(*framework.OASDocument)
	require.True(t, ok)
	return doc
}

// oasOperations lists the document's operations as "METHOD path".
func oasOperations(doc *framework.OASDocument) map[string]*framework.OASOperation {
	out := map[string]*framework.OASOperation{}
	for p, item := range doc.Paths {
		for m, op := range map[string]*framework.OASOperation{"GET": item.Get, "POST": item.Post, "DELETE": item.Delete, "PATCH": item.Patch} {
			if op != nil {
				out[m+" "+p] = op
			}
		}
	}
	return out
}

var readableID = regexp.MustCompile(`^kms(-[a-z0-9]+)+$`)

// Generated clients name their methods after operation ids: they must be
// unique and readable (kms-encrypt, kms-create-key).
func TestOpenAPIOperationIDs(t *testing.T) {
	doc := openAPI(t)
	seen := map[string]string{}
	for where, op := range oasOperations(doc) {
		id := op.OperationID
		require.Regexp(t, readableID, id, where)
		parts := strings.Split(id, "-")
		for i := 1; i < len(parts); i++ {
			require.NotEqual(t, parts[i-1], parts[i], "%s: repeated word in %s", where, id)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("operation id %s is used by %s and %s", id, prev, where)
		}
		seen[id] = where
	}
	for where, want := range map[string]string{
		"POST /encrypt/{key_id}": "kms-encrypt", "POST /keys": "kms-create-key", "GET /keys/": "kms-list-keys",
		"GET /keys/{key_id}": "kms-describe-key", "POST /keys/{key_id}/schedule-deletion": "kms-schedule-key-deletion",
		"POST /decrypt": "kms-decrypt", "POST /keys/{key_id}/tags": "kms-tag-resource",
	} {
		require.Equal(t, where, seen[want], "operation id %s", want)
	}
}

// Every operation in the published document has a typed success response.
func TestOpenAPITypedResponses(t *testing.T) {
	for where, op := range oasOperations(openAPI(t)) {
		if r, ok := op.Responses[http.StatusNoContent]; ok {
			require.NotEmpty(t, r.Description, where)
			continue
		}
		r, ok := op.Responses[http.StatusOK]
		require.True(t, ok, "%s: no 200 or 204 response", where)
		require.NotEqual(t, "OK", r.Description, where)
		if strings.HasPrefix(where, "POST /aws") {
			// A raw body in AWS's protocol, which OpenAPI cannot type here.
			require.Equal(t, awsRawDesc, r.Description)
			continue
		}
		require.NotEmpty(t, r.Content, where)
		for mt, c := range r.Content {
			if mt == awsapi.ContentType {
				continue
			}
			require.NotNil(t, c.Schema, where)
			require.True(t, c.Schema.Ref != "" || len(c.Schema.Properties) > 0, "%s: untyped response", where)
		}
	}
}

// TestResponseSession runs every path and operation through the backend's
// routing, with keys of several specs, and validates each response against
// its published schema in strict mode (tb.do does); it then checks that
// every operation of every path was seen succeeding.
func TestResponseSession(t *testing.T) {
	tb := newTestBackend(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var U, R, L, D, P logical.Operation = logical.UpdateOperation, logical.ReadOperation, logical.ListOperation, logical.DeleteOperation, logical.PatchOperation

	tb.ok(R, "config", nil)
	tb.ok(U, "config", map[string]any{"region": "eu-west-1"})

	sym := tb.createKey(map[string]any{"description": "sym", "tags": map[string]any{"team": "a"}, "alias": "alias/session"})
	sym2 := tb.createKey(nil)
	rsa := tb.createKey(map[string]any{"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})
	ecc := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	ecc2 := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	hmac := tb.createKey(map[string]any{"key_spec": "HMAC_256"})
	kem := tb.createKey(map[string]any{"key_spec": "ML_KEM_768"})

	// Lifecycle and listing, with paging.
	page1 := tb.ok(L, "keys/", map[string]any{"limit": 2})
	require.Equal(t, true, page1["truncated"])
	tb.ok(L, "keys/", map[string]any{"limit": 1000, "after": page1["next_marker"]})
	tb.ok(R, "keys/"+sym, nil)
	tb.ok(R, "keys/alias/session", nil)
	tb.ok(U, "keys/"+sym, map[string]any{"description": "new"})
	tb.ok(U, "keys/"+sym2+"/disable", nil)
	tb.ok(U, "keys/"+sym2+"/enable", nil)
	tb.ok(U, "keys/"+sym2+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	tb.ok(U, "keys/"+sym2+"/cancel-deletion", nil)
	tb.ok(U, "keys/"+sym2+"/enable", nil)

	// Tags, aliases.
	tb.ok(R, "keys/"+sym+"/tags", nil)
	tb.ok(U, "keys/"+sym+"/tags", map[string]any{"tags": map[string]any{"env": "dev"}})
	tb.ok(U, "keys/"+sym+"/untag", map[string]any{"tag_keys": "env"})
	tb.ok(L, "aliases/", nil)
	tb.ok(L, "aliases/", map[string]any{"key_id": sym})
	tb.ok(U, "aliases/alias/other", map[string]any{"target_key_id": sym})
	tb.ok(R, "aliases/alias/other", nil)
	tb.ok(P, "aliases/alias/other", map[string]any{"target_key_id": sym2})
	tb.ok(D, "aliases/alias/other", nil)
	// An update of an existing alias (no existence-check rewrite to create).
	tb.ok(U, "aliases/alias/again", map[string]any{"target_key_id": sym})
	resp, err := tb.HandleRequest(context.Background(), &logical.Request{Operation: U, Path: "aliases/alias/again2",
		Data: map[string]any{"target_key_id": sym}, Storage: tb.storage})
	validateResponseSchema(t, tb.backend, &logical.Request{Operation: U, Path: "aliases/alias/again2"}, resp, err)

	// Grants.
	g := tb.ok(U, "keys/"+sym+"/grants", map[string]any{"grantee_principal": "entity:bob", "retiring_principal": "entity:alice",
		"operations": "Encrypt,Decrypt", "encryption_context_subset": map[string]any{"k": "v"}})
	tb.ok(L, "keys/"+sym+"/grants/", nil)
	tb.ok(L, "grants/retirable/", map[string]any{"retiring_principal": "entity:alice"})
	tb.ok(U, "grants/retire", map[string]any{"grant_token": g["grant_token"]})
	g = tb.ok(U, "keys/"+sym+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})
	tb.ok(D, "keys/"+sym+"/grants/"+g["grant_id"].(string), nil)

	// Policy.
	pol := tb.ok(R, "keys/"+sym+"/policy", nil)
	tb.ok(U, "keys/"+sym+"/policy", map[string]any{"policy": pol["policy"]})
	tb.ok(L, "keys/"+sym+"/policies/", nil)
	tb.ok(U, "policy-recovery/"+sym, map[string]any{"policy": pol["policy"]})

	// Rotation.
	tb.ok(R, "keys/"+sym+"/rotation", nil)
	tb.ok(U, "keys/"+sym+"/rotation", map[string]any{"rotation_period_in_days": 90})
	tb.ok(R, "keys/"+sym+"/rotation", nil)
	tb.ok(D, "keys/"+sym+"/rotation", nil)
	tb.ok(U, "keys/"+sym+"/rotate", nil)
	tb.ok(L, "keys/"+sym+"/rotations/", map[string]any{"limit": 1})

	// Import.
	ext := tb.ok(U, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	_, err = tb.importMaterial(ext, "RSAES_OAEP_SHA_256", make([]byte, 32), nil)
	require.NoError(t, err)
	tb.ok(D, "keys/"+ext+"/import", nil)

	// Cryptographic operations, single and batch.
	ct := tb.ok(U, "encrypt/"+sym, map[string]any{"plaintext": b64("x"), "encryption_context": map[string]any{"k": "v"}})["ciphertext_blob"]
	tb.ok(U, "encrypt/"+sym, map[string]any{"batch_input": []any{map[string]any{"plaintext": b64("a")}, map[string]any{"plaintext": "!"}}})
	tb.ok(U, "decrypt", map[string]any{"ciphertext_blob": ct, "encryption_context": map[string]any{"k": "v"}})
	tb.ok(U, "decrypt/"+sym, map[string]any{"batch_input": []any{map[string]any{"ciphertext_blob": ct, "encryption_context": map[string]any{"k": "v"}}, map[string]any{"ciphertext_blob": ct}}})
	tb.ok(U, "re-encrypt/"+sym2, map[string]any{"ciphertext_blob": ct, "source_encryption_context": map[string]any{"k": "v"}})
	tb.ok(U, "re-encrypt/"+sym2, map[string]any{"batch_input": []any{map[string]any{"ciphertext_blob": ct, "source_encryption_context": map[string]any{"k": "v"}}}})
	tb.ok(U, "data-key/plaintext/"+sym, map[string]any{"key_spec": "AES_256"})
	tb.ok(U, "data-key/wrapped/"+sym, map[string]any{"number_of_bytes": 16})
	tb.ok(U, "data-key-pair/plaintext/"+sym, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
	tb.ok(U, "data-key-pair/wrapped/"+sym, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
	msg := b64("message")
	sig := tb.ok(U, "sign/"+rsa, map[string]any{"message": msg, "signing_algorithm": "RSASSA_PSS_SHA_256"})["signature"]
	tb.ok(U, "sign/"+rsa, map[string]any{"batch_input": []any{map[string]any{"message": msg, "signing_algorithm": "RSASSA_PSS_SHA_256"}}})
	tb.ok(U, "verify/"+rsa, map[string]any{"message": msg, "signing_algorithm": "RSASSA_PSS_SHA_256", "signature": sig})
	tb.ok(U, "verify/"+rsa, map[string]any{"batch_input": []any{map[string]any{"message": msg, "signing_algorithm": "RSASSA_PSS_SHA_256", "signature": sig}}})
	tb.ok(R, "keys/"+rsa+"/public-key", nil)
	mac := tb.ok(U, "generate-mac/"+hmac, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})["mac"]
	tb.ok(U, "generate-mac/"+hmac, map[string]any{"batch_input": []any{map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"}}})
	tb.ok(U, "verify-mac/"+hmac, map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256", "mac": mac})
	tb.ok(U, "verify-mac/"+hmac, map[string]any{"batch_input": []any{map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256", "mac": mac}}})
	peer := tb.ok(R, "keys/"+ecc2+"/public-key", nil)["public_key"]
	tb.ok(U, "derive-shared-secret/"+ecc, map[string]any{"public_key": peer, "key_agreement_algorithm": "ECDH"})
	tb.ok(U, "random", map[string]any{"number_of_bytes": 8})
	enc := tb.ok(U, "encapsulate/"+kem, nil)
	tb.ok(U, "encapsulate/"+kem, map[string]any{"batch_input": []any{map[string]any{}}})
	tb.ok(U, "decapsulate/"+kem, map[string]any{"shared_secret_ciphertext_blob": enc["shared_secret_ciphertext_blob"]})
	tb.ok(U, "decapsulate/"+kem, map[string]any{"batch_input": []any{map[string]any{"shared_secret_ciphertext_blob": enc["shared_secret_ciphertext_blob"]}}})
	tb.ok(R, "keys/"+sym+"/last-usage", nil)
	tb.ok(R, "keys/"+sym, nil)

	// HSM connections and custom key stores (a real SoftHSM2 token).
	env := newHSMEnv(t, tb, 1)
	tok := env.token(t)
	conn := env.connection(tb, tok)
	tb.ok(U, "config/hsm/"+conn, map[string]any{"token_label": tok.Label})
	tb.ok(R, "config/hsm/"+conn, nil)
	tb.ok(L, "config/hsm/", nil)
	cks := tb.ok(U, "custom-key-stores", map[string]any{"custom_key_store_name": "session", "cloud_hsm_cluster_id": conn,
		"key_store_password": tok.PIN})["custom_key_store_id"].(string)
	tb.ok(L, "custom-key-stores/", nil)
	tb.ok(R, "custom-key-stores/"+cks, nil)
	tb.ok(U, "custom-key-stores/"+cks+"/connect", nil)
	tb.ok(U, "custom-key-stores/"+cks+"/disconnect", nil)
	tb.ok(U, "custom-key-stores/"+cks, map[string]any{"new_custom_key_store_name": "renamed"})
	tb.ok(D, "custom-key-stores/"+cks, nil)
	tb.ok(D, "config/hsm/"+conn, nil)

	// The AWS endpoint: a raw body, success and refusal.
	tb.aws("", "DescribeKey", map[string]any{"KeyId": sym})
	tb.awsFails(kmserr.NotFound, "", "DescribeKey", map[string]any{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"})
	resp, err = tb.HandleRequest(context.Background(), &logical.Request{Operation: U, Path: "aws/ListKeys", Data: map[string]any{}, Storage: tb.storage})
	validateResponseSchema(t, tb.backend, &logical.Request{Operation: U, Path: "aws/ListKeys"}, resp, err)

	// The main errors: a 4xx refusal carries no success body to validate.
	tb.fails(kmserr.NotFound, R, "keys/1234abcd-12ab-34cd-56ef-1234567890ab", nil)
	tb.fails(kmserr.Validation, U, "keys", map[string]any{"key_spec": "NOPE"})
	tb.ok(U, "keys/"+sym2+"/disable", nil)
	tb.fails(kmserr.Disabled, U, "encrypt/"+sym2, map[string]any{"plaintext": b64("x")})

	schemaCoverage.Lock()
	seen := schemaCoverage.m[tb.backend]
	schemaCoverage.Unlock()
	var missing []string
	for _, p := range tb.Paths {
		for op := range p.Operations {
			if route := routeOf(p.Pattern); !seen[coverageKey(route, op)] {
				missing = append(missing, fmt.Sprintf("%s %s", op, route))
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "operations the session did not validate")
}
