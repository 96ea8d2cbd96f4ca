package kms

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/stretchr/testify/require"
)

// docs/API.md ends with a reference generated from the OpenAPI document the
// backend publishes; `make docs` regenerates it, and this test fails when
// the committed file is not current, so the paths, methods, parameters and
// response fields documented cannot drift from the code.

var updateDocs = flag.Bool("update-docs", false, "rewrite the generated reference in docs/API.md")

const (
	apiDocsFile   = "docs/API.md"
	apiDocsBegin  = "<!-- BEGIN GENERATED REFERENCE: `make docs` writes this section from the OpenAPI; do not edit. -->"
	apiDocsEnd    = "<!-- END GENERATED REFERENCE -->"
	methodOrder   = "GET LIST POST PATCH DELETE"
	rawAWSColumn  = "raw AWS JSON 1.1 body (see [AWS.md](AWS.md))"
	noBodyColumn  = "204, no body"
	listOperation = "LIST"
)

func TestAPIReference(t *testing.T) {
	raw, err := os.ReadFile(apiDocsFile)
	require.NoError(t, err)
	doc := string(raw)
	begin, end := strings.Index(doc, apiDocsBegin), strings.Index(doc, apiDocsEnd)
	require.True(t, begin >= 0 && end > begin, "%s lacks the generated reference markers", apiDocsFile)
	want := apiDocsBegin + "\n" + apiReference(t, openAPI(t)) + apiDocsEnd
	got := doc[begin : end+len(apiDocsEnd)]
	if *updateDocs {
		require.NoError(t, os.WriteFile(apiDocsFile, []byte(doc[:begin]+want+doc[end+len(apiDocsEnd):]), 0o644))
		return
	}
	require.Equal(t, want, got, "docs/API.md is not current: run `make docs`")
}

// apiReference renders one table row per operation.
func apiReference(t *testing.T, doc *framework.OASDocument) string {
	t.Helper()
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	b.WriteString("\n## Reference\n\nEvery path and operation, as the mount's OpenAPI document " +
		"(`sys/internal/specs/openapi`) publishes them. Path parameters are in braces; `LIST` is Vault's list " +
		"(`GET ...?list=true`). The sections above explain each operation.\n\n")
	b.WriteString("| Method | Path | Operation id | Parameters | Response |\n|---|---|---|---|---|\n")
	for _, p := range paths {
		item := doc.Paths[p]
		type row struct{ method, line string }
		var rows []row
		for method, op := range map[string]*framework.OASOperation{"GET": item.Get, "POST": item.Post, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil {
				continue
			}
			if method == "GET" && isListOp(op) {
				method = listOperation
			}
			line := fmt.Sprintf("| `%s` | `%s` | `%s` | %s | %s |\n", method, strings.TrimPrefix(p, "/"), op.OperationID,
				codeList(parameters(doc, op, method)), responseColumn(t, doc, op))
			rows = append(rows, row{method, line})
		}
		sort.Slice(rows, func(i, j int) bool {
			return strings.Index(methodOrder, rows[i].method) < strings.Index(methodOrder, rows[j].method)
		})
		for _, r := range rows {
			b.WriteString(r.line)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func isListOp(op *framework.OASOperation) bool {
	for _, p := range op.Parameters {
		if p.Name == "list" && p.In == "query" {
			return true
		}
	}
	return false
}

// parameters: the query parameters (not Vault's list flag) and the request
// body's fields; path parameters are in the path.
func parameters(doc *framework.OASDocument, op *framework.OASOperation, method string) []string {
	var out []string
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name != "list" {
			out = append(out, p.Name)
		}
	}
	if op.RequestBody != nil {
		for _, c := range op.RequestBody.Content {
			out = append(out, schemaFields(doc, c.Schema)...)
		}
	}
	sort.Strings(out)
	return out
}

func responseColumn(t *testing.T, doc *framework.OASDocument, op *framework.OASOperation) string {
	if _, ok := op.Responses[http.StatusNoContent]; ok {
		return noBodyColumn
	}
	r := op.Responses[http.StatusOK]
	require.NotNil(t, r, op.OperationID)
	c, ok := r.Content["application/json"]
	if !ok {
		return rawAWSColumn
	}
	fields := schemaFields(doc, c.Schema)
	sort.Strings(fields)
	return codeList(fields)
}

// schemaFields lists a schema's properties, following a components ref.
func schemaFields(doc *framework.OASDocument, s *framework.OASSchema) []string {
	if s == nil {
		return nil
	}
	if s.Ref != "" {
		s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		if s == nil {
			return nil
		}
	}
	out := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		out = append(out, name)
	}
	return out
}

func codeList(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "`" + strings.Join(names, "`, `") + "`"
}

// handRow is a row of a hand-written table in docs/API.md: `METHOD` |
// `path`, or `METHOD path` in one cell.
var (
	handRowTwoCells = regexp.MustCompile("^\\| `(GET|LIST|POST|PATCH|DELETE)` \\| `([^`]+)`")
	handRowOneCell  = regexp.MustCompile("^\\| `(GET|LIST|POST|PATCH|DELETE) ([^`]+)`")
	placeholder     = regexp.MustCompile(`<[^>]+>|\{[^}]+\}`)
)

func normalizeDocPath(p string) string {
	return strings.TrimSuffix(placeholder.ReplaceAllString(strings.TrimPrefix(p, "/"), "{}"), "/")
}

// The hand-written tables above the reference name every operation the
// backend serves, and nothing it does not.
func TestAPIDocsHandTables(t *testing.T) {
	raw, err := os.ReadFile(apiDocsFile)
	require.NoError(t, err)
	doc := string(raw)
	hand := doc[:strings.Index(doc, apiDocsBegin)]
	documented := map[string]bool{}
	for _, line := range strings.Split(hand, "\n") {
		m := handRowTwoCells.FindStringSubmatch(line)
		if m == nil {
			m = handRowOneCell.FindStringSubmatch(line)
		}
		if m != nil {
			documented[m[1]+" "+normalizeDocPath(m[2])] = true
		}
	}
	served := map[string]bool{}
	oas := openAPI(t)
	for p, item := range oas.Paths {
		for method, op := range map[string]*framework.OASOperation{"GET": item.Get, "POST": item.Post, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil {
				continue
			}
			if method == "GET" && isListOp(op) {
				method = listOperation
			}
			served[method+" "+normalizeDocPath(p)] = true
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("docs/API.md has no table row for %s", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("docs/API.md documents %s, which the backend does not serve", op)
		}
	}
}
