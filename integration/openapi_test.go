package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
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
