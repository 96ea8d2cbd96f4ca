package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/require"
)

// TestBadInputSweep sends hostile requests to every path and operation of
// the plugin's own OpenAPI document and to every AWS operation the SDK
// knows, through a Vault of the test's own: wrong types, null, empty and
// huge values, invalid base64 and UTF-8, deep JSON, large batches,
// unknown and foreign ARNs, path tricks. No answer may be a 5xx that the
// plugin produced, Vault must log no panic, and the plugin process must be
// the one it started with.
func TestBadInputSweep(t *testing.T) {
	v := startOwnDev(t)
	pids := v.pluginPIDs()
	require.Len(t, pids, 1)
	sw := &sweep{t: t, v: v, r: rand.New(rand.NewPCG(1, 2)), fives: map[string][]string{}}
	key := cwrite(t, v.client, "kms/keys", map[string]any{"alias": "alias/sweep"})["key_id"].(string)
	sw.realKey = key

	// Vault's own answer to a body it cannot parse, on a path of Vault's:
	// the same 500 on the plugin's paths is not the plugin's.
	control, err := http.NewRequest("POST", "http://"+v.addr+"/v1/sys/policies/acl/sweep", strings.NewReader(`{"policy": "`))
	require.NoError(t, err)
	control.Header.Set("X-Vault-Token", v.token)
	resp, err := http.DefaultClient.Do(control)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Regexp(t, vaultsOwn500, string(body))

	sw.openAPIPaths()
	sw.awsOperations()
	sw.batches()

	t.Logf("%d requests: %v", sw.sent, sw.statuses)
	for msg, cases := range sw.fives {
		t.Errorf("the plugin answered 5xx %d times (%s), e.g. %s", len(cases), msg, strings.Join(cases[:min(5, len(cases))], " | "))
	}
	log, err := os.ReadFile(filepath.Join(v.dir, "vault.log"))
	require.NoError(t, err)
	require.NotRegexp(t, `(?m)^panic:|goroutine \d+ \[running\]`, string(log), "a panic in Vault's log")
	require.Equal(t, pids, v.pluginPIDs(), "the plugin process never restarted")
}

type sweep struct {
	t        *testing.T
	v        *vaultServer
	r        *rand.Rand
	realKey  string
	sent     int
	statuses map[int]int
	fives    map[string][]string // unexplained 5xx by message
}

// hostileIDs are key ids, alias names and grant ids that try to escape
// their path or name nothing the plugin has.
var hostileIDs = []string{
	"..", "../", "a/..", "../../sys/seal", "%2e%2e", "%2e%2e/%2e%2e/sys/seal", "alias/../x", "alias/%2e%2e",
	"arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-4000-8000-000000000000",
	"arn:aws-cn:kms:cn-north-1:000000000000:alias/x", "0a1b2c3d-0000-4000-8000-000000000000",
	"x/extra/segments", strings.Repeat("k", 2048), "\u00e9\u200b\ufffd",
}

// send makes one raw request and classifies the answer.
func (sw *sweep) send(method, path string, body []byte, header map[string]string) {
	req, err := http.NewRequest(method, "http://"+sw.v.addr+"/v1/"+path, bytes.NewReader(body))
	require.NoError(sw.t, err)
	req.Header.Set("X-Vault-Token", sw.v.token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(sw.t, err, "%s %s", method, path)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sw.sent++
	if sw.statuses == nil {
		sw.statuses = map[int]int{}
	}
	sw.statuses[resp.StatusCode]++
	if resp.StatusCode < 500 {
		return
	}
	text := string(out)
	desc := fmt.Sprintf("%s %s %.200q -> %d %.200s", method, truncate(path, 120), body, resp.StatusCode, text)
	switch {
	case vaultsOwn500.MatchString(text):
		// Vault refuses a body it cannot parse before the plugin sees it,
		// with the same 500 on every mount (Transit, sys/).
	default:
		msg := text
		if len(msg) > 100 {
			msg = msg[:100]
		}
		sw.fives[msg] = append(sw.fives[msg], desc)
	}
}

// vaultsOwn500 matches the errors Vault's HTTP layer gives for a body it
// cannot decode; they are not the plugin's.
var vaultsOwn500 = regexp.MustCompile(`^\{"errors":\["(malformed JSON|failed to parse JSON input|error parsing JSON|JSON input exceeds)`)

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// mutations are the hostile values a request member gets.
func (sw *sweep) mutations() []any {
	bad := []any{nil, "", 12345, -1, 1e308, true, []any{1, "x", nil}, map[string]any{"k": []any{}},
		"!!!not base64!!!", strings.Repeat("A", 100<<10), "\xff\xfe\xfd", "arn:aws:kms:us-east-1:000000000000:key/..",
		hostileIDs[sw.r.IntN(len(hostileIDs))]}
	return bad
}

// rawBodies are bodies that are not what the member types say: invalid
// JSON, invalid UTF-8, JSON nested deeper than anything sensible.
func rawBodies() [][]byte {
	return [][]byte{
		[]byte(`{"plaintext": "`), []byte("{\"description\": \"\xff\xfe\"}"), []byte(`[1,2,3]`), []byte(`"just a string"`),
		[]byte(strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 500)),
		[]byte(`{"key_id": {"$ref": "x"}, "tags": [[[[[[[[[[]]]]]]]]]]}`),
	}
}

// openAPIPaths sweeps every path and operation of the plugin's OpenAPI
// document, as Vault publishes it.
func (sw *sweep) openAPIPaths() {
	t := sw.t
	doc, err := sw.v.client.Logical().Read("sys/internal/specs/openapi")
	require.NoError(t, err)
	paths := doc.Data["paths"].(map[string]any)
	schemas := doc.Data["components"].(map[string]any)["schemas"].(map[string]any)
	var names []string
	for p := range paths {
		if strings.HasPrefix(p, "/kms/") {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	require.Greater(t, len(names), 20, "the plugin's paths in the OpenAPI document")
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, p := range names {
		item := paths[p].(map[string]any)
		real := param.ReplaceAllStringFunc(p, func(m string) string {
			if strings.Contains(m, "key") {
				return sw.realKey
			}
			return "sweep-name"
		})[1:]
		// Sorted: with the fixed seed, every run sends the same values to
		// the same members, so a failure replays.
		for _, method := range slices.Sorted(maps.Keys(item)) {
			opAny := item[method]
			httpMethod := strings.ToUpper(method)
			if httpMethod != "GET" && httpMethod != "POST" && httpMethod != "DELETE" && httpMethod != "PATCH" {
				continue
			}
			// Path tricks: every parameter hostile, and extra segments.
			for _, id := range hostileIDs {
				// In a URL, Vault resolves dot segments before routing: a
				// path may climb out of the mount (tested harmlessly on
				// sys/health, not on sys/seal).
				id = strings.ReplaceAll(id, "sys/seal", "sys/health")
				sw.send(httpMethod, param.ReplaceAllString(p, id)[1:], nil, nil)
			}
			sw.send(httpMethod, real+"/extra/segments", nil, nil)
			if httpMethod == "GET" {
				sw.send("GET", real+"?list=true&limit=-5&after=..", nil, nil)
			}
			if httpMethod != "POST" && httpMethod != "PATCH" {
				continue
			}
			props := requestProperties(opAny.(map[string]any), schemas)
			for _, name := range slices.Sorted(maps.Keys(props)) {
				for _, bad := range sw.mutations() {
					b, err := json.Marshal(map[string]any{name: bad})
					if err != nil {
						b = []byte(fmt.Sprintf(`{%q: %q}`, name, fmt.Sprint(bad)))
					}
					sw.send(httpMethod, real, b, nil)
				}
			}
			for _, b := range rawBodies() {
				sw.send(httpMethod, real, b, nil)
			}
		}
	}
}

// requestProperties returns the request body's properties of an OpenAPI
// operation, following a $ref into the components.
func requestProperties(op map[string]any, schemas map[string]any) map[string]any {
	rb, ok := op["requestBody"].(map[string]any)
	if !ok {
		return nil
	}
	content, _ := rb["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	schema, _ := js["schema"].(map[string]any)
	if ref, ok := schema["$ref"].(string); ok {
		schema, _ = schemas[ref[strings.LastIndex(ref, "/")+1:]].(map[string]any)
	}
	props, _ := schema["properties"].(map[string]any)
	return props
}

// awsOperations sends every operation the AWS SDK for Go knows, with
// random values in each of its input members and hostile key ids.
func (sw *sweep) awsOperations() {
	ct := reflect.TypeOf(&kms.Client{})
	ops := 0
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		if m.Type.NumIn() != 4 || m.Type.In(2).Kind() != reflect.Pointer || m.Type.In(2).Elem().Name() != m.Name+"Input" {
			continue
		}
		ops++
		in := m.Type.In(2).Elem()
		var members []string
		for f := range in.NumField() {
			if fl := in.Field(f); fl.IsExported() {
				members = append(members, fl.Name)
			}
		}
		header := map[string]string{"X-Amz-Target": "TrentService." + m.Name, "Content-Type": "application/x-amz-json-1.1"}
		for range 4 {
			body := map[string]any{}
			for _, name := range members {
				if sw.r.IntN(3) > 0 {
					muts := sw.mutations()
					body[name] = muts[sw.r.IntN(len(muts))]
				}
			}
			b, _ := json.Marshal(body)
			sw.send("POST", "kms/aws", b, header)
		}
		for _, name := range members {
			if !strings.HasSuffix(name, "KeyId") {
				continue
			}
			for _, id := range hostileIDs {
				b, _ := json.Marshal(map[string]any{name: id})
				sw.send("POST", "kms/aws", b, header)
			}
		}
		for _, b := range rawBodies()[:3] {
			sw.send("POST", "kms/aws", b, header)
		}
		sw.send("POST", "kms/aws/"+m.Name, []byte(`{"KeyId": "..", "Limit": "x"}`), nil)
	}
	require.Greater(sw.t, ops, 50, "the SDK's operations")
}

// batches sends a few batches of 1,000 items of 4 KiB.
func (sw *sweep) batches() {
	item := strings.Repeat("Q", 4096)
	var enc, dec, mac []any
	for range 1000 {
		enc = append(enc, map[string]any{"plaintext": b64([]byte(item[:3072]))})
		dec = append(dec, map[string]any{"ciphertext_blob": b64([]byte(item[:3072]))})
		mac = append(mac, map[string]any{"message": item, "mac_algorithm": "HMAC_SHA_256"})
	}
	for path, items := range map[string][]any{"kms/encrypt/" + sw.realKey: enc, "kms/decrypt": dec, "kms/generate-mac/" + sw.realKey: mac} {
		b, err := json.Marshal(map[string]any{"batch_input": items})
		require.NoError(sw.t, err)
		sw.send("POST", path, b, nil)
	}
}
