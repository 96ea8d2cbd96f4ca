package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The OpenAPI document a real Vault serves for the mount: every kms/
// operation carries a typed success response (fields for 200, or 204), and
// real responses hold only the fields their schema declares.

type oasDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type oasOp struct {
	OperationID string `json:"operationId"`
	Responses   map[string]struct {
		Description string `json:"description"`
		Content     map[string]struct {
			Schema struct {
				Ref        string                     `json:"$ref"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func servedOpenAPI(t *testing.T) *oasDoc {
	t.Helper()
	req := dev.client.NewRequest(http.MethodGet, "/v1/sys/internal/specs/openapi")
	resp, err := dev.client.RawRequestWithContext(context.Background(), req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc oasDoc
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	return &doc
}

// responseFields returns the properties of an operation's 200 response.
func (d *oasDoc) responseFields(t *testing.T, path, method string) map[string]json.RawMessage {
	t.Helper()
	raw, ok := d.Paths[path][method]
	require.True(t, ok, "%s %s not in the OpenAPI document", method, path)
	var op oasOp
	require.NoError(t, json.Unmarshal(raw, &op))
	schema := op.Responses["200"].Content["application/json"].Schema
	props := schema.Properties
	if schema.Ref != "" {
		props = d.Components.Schemas[strings.TrimPrefix(schema.Ref, "#/components/schemas/")].Properties
	}
	require.NotEmpty(t, props, "%s %s: no typed 200 response", method, path)
	return props
}

func TestOpenAPITypedResponses(t *testing.T) {
	doc := servedOpenAPI(t)
	ids := map[string]string{}
	n := 0
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/kms/") {
			continue
		}
		for method, raw := range item {
			if method == "parameters" || method == "description" || method == "x-vault-sudo" ||
				method == "x-vault-unauthenticated" || method == "x-vault-createSupported" || method == "x-vault-displayAttrs" {
				continue
			}
			n++
			var op oasOp
			require.NoError(t, json.Unmarshal(raw, &op), "%s %s", method, path)
			where := method + " " + path
			require.NotEmpty(t, op.OperationID, where)
			if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operation id %s used by %s and %s", op.OperationID, prev, where)
			}
			ids[op.OperationID] = where
			if r, ok := op.Responses["204"]; ok {
				require.NotEmpty(t, r.Description, where)
				continue
			}
			r, ok := op.Responses["200"]
			require.True(t, ok, "%s: no 200 or 204 response", where)
			require.NotEqual(t, "OK", r.Description, "%s: untyped response", where)
			if strings.HasPrefix(path, "/kms/aws") {
				require.Contains(t, r.Description, "AWS KMS JSON 1.1", where)
				continue
			}
			doc.responseFields(t, path, method)
		}
	}
	require.Greater(t, n, 40, "kms/ operations in the served document")

	// Real responses hold only declared fields.
	check := func(path, method string, data map[string]any) {
		t.Helper()
		props := doc.responseFields(t, path, method)
		for k := range data {
			require.Contains(t, props, k, "%s %s returned a field its schema lacks", method, path)
		}
	}
	key := write(t, "kms/keys", map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	check("/kms/keys", "post", key.Data)
	id := key.Data["key_id"].(string)
	check("/kms/keys/{key_id}", "get", read(t, "kms/keys/"+id).Data)
	msg := base64.StdEncoding.EncodeToString([]byte("hello"))
	sig := write(t, "kms/sign/"+id, map[string]any{"message": msg, "signing_algorithm": "ECDSA_SHA_256"})
	check("/kms/sign/{key_id}", "post", sig.Data)
	check("/kms/keys/{key_id}/public-key", "get", read(t, "kms/keys/"+id+"/public-key").Data)
	list, err := dev.client.Logical().List("kms/keys")
	require.NoError(t, err)
	check("/kms/keys/", "get", list.Data)
}

// served is the OpenAPI document of the shared dev server, fetched once;
// write and read check every response they return against it.
var served struct {
	once   sync.Once
	doc    *oasDoc
	routes []servedRoute
}

type servedRoute struct {
	re      *regexp.Regexp
	literal int
	path    string
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// checkServedSchema checks a response of the plugin's kms/ mount on the
// dev server against the schema the server publishes for it: every field declared, of the declared JSON
// type (strict, as the unit tests' schema.ValidateResponse).
func checkServedSchema(t *testing.T, method, path string, data map[string]any) {
	t.Helper()
	if data == nil {
		return
	}
	served.once.Do(func() {
		served.doc = servedOpenAPI(t)
		for p := range served.doc.Paths {
			if !strings.HasPrefix(p, "/kms/") {
				continue // Vault's own paths and other mounts
			}
			parts := pathParam.Split(p, -1)
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			served.routes = append(served.routes, servedRoute{regexp.MustCompile("^" + strings.Join(parts, ".+") + "$"),
				len(strings.Join(parts, "")), p})
		}
	})
	var best *servedRoute
	for i, r := range served.routes {
		if _, ok := served.doc.Paths[r.path][method]; ok && r.re.MatchString("/"+path) && (best == nil || r.literal > best.literal) {
			best = &served.routes[i]
		}
	}
	if best == nil {
		return
	}
	props := served.doc.responseFields(t, best.path, method)
	for k, v := range data {
		raw, ok := props[k]
		require.True(t, ok, "%s %s returned %q, which its published schema (%s) lacks", method, path, k, best.path)
		var p struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(raw, &p))
		require.Equal(t, p.Type, jsonType(v), "%s %s: field %q", method, path, k)
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
