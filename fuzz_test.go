package kms

// Fuzz targets for the parsers that take untrusted input (issue 13 §4). Each
// asserts properties, not only the absence of a panic; `make fuzz` runs each
// for a few seconds, and `go test` runs their seeds.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// requireRefusal fails unless err is a kmserr.Error of exception exc with a
// client status.
func requireRefusal(t *testing.T, err error, exc string) {
	t.Helper()
	var ke *kmserr.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v is not a KMS error", err)
	}
	if exc != "" && ke.Type != exc {
		t.Fatalf("error %v is not %s", err, exc)
	}
	if ke.Code() >= 500 {
		t.Fatalf("error %v has status %d", err, ke.Code())
	}
}

// tokenRaw is a token's decoded bytes: two encodings of the same bytes are
// the same token.
func tokenRaw(token string) string {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return ""
	}
	return string(raw)
}

// fuzzTokens sets up a backend with a grant and pending import parameters,
// and returns their tokens.
func fuzzTokens(f *testing.F) (tb *testBackend, grantKey, grantID, grantToken, importKey, importToken string) {
	tb = newTestBackend(f)
	grantKey = tb.createKey(nil)
	g := tb.ok(logical.UpdateOperation, "keys/"+grantKey+"/grants", map[string]any{"grantee_principal": "entity:e1", "operations": "Encrypt"})
	importKey = tb.createKey(map[string]any{"origin": "EXTERNAL"})
	imp := tb.ok(logical.UpdateOperation, "keys/"+importKey+"/import-parameters",
		map[string]any{"wrapping_key_spec": "RSA_2048", "wrapping_algorithm": "RSAES_OAEP_SHA_256"})
	return tb, grantKey, g["grant_id"].(string), g["grant_token"].(string), importKey, imp["import_token"].(string)
}

// tokenSeeds are the issued tokens and near misses of them.
func tokenSeeds(f *testing.F, tokens ...string) {
	f.Add("")
	f.Add("v1...")
	for _, tok := range tokens {
		f.Add(tok)
		raw := tokenRaw(tok)
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(strings.ToUpper(raw))))
		f.Add(base64.RawURLEncoding.EncodeToString([]byte("v1" + raw[2:])))
		f.Add(base64.RawURLEncoding.EncodeToString([]byte("i1" + raw[2:])))
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
	}
}

// FuzzGrantToken: only a token this mount issued validates, naming the
// grant it was issued for; anything else (an import token included) is an
// InvalidGrantTokenException.
func FuzzGrantToken(f *testing.F) {
	tb, keyID, grantID, grantToken, _, importToken := fuzzTokens(f)
	tokenSeeds(f, grantToken, importToken)
	f.Fuzz(func(t *testing.T, token string) {
		k, g, err := tb.parseGrantToken(context.Background(), tb.storage, token)
		if err != nil {
			requireRefusal(t, err, kmserr.InvalidGrantToken)
			return
		}
		if tokenRaw(token) != tokenRaw(grantToken) || k != keyID || g != grantID {
			t.Fatalf("forged grant token %q validated as key %q grant %q", token, k, g)
		}
	})
}

// FuzzImportToken: only the key's current import token validates; anything
// else (a grant token included) is an InvalidImportTokenException.
func FuzzImportToken(f *testing.F) {
	tb, grantKey, _, grantToken, keyID, importToken := fuzzTokens(f)
	tokenSeeds(f, grantToken, importToken)
	f.Fuzz(func(t *testing.T, token string) {
		for _, key := range []string{keyID, grantKey} {
			ie, err := tb.checkImportToken(context.Background(), tb.storage, key, token)
			if err != nil {
				requireRefusal(t, err, kmserr.InvalidImportToken)
				continue
			}
			if key != keyID || tokenRaw(token) != tokenRaw(importToken) || ie == nil {
				t.Fatalf("forged import token %q validated for key %q", token, key)
			}
		}
	})
}

// awsFieldsNotInPath are members an operation takes whose path has no
// field for them. ListResourceTags pages in its response shaping (from
// the decoded request's fields in internal/awsapi), by design.
var awsFieldsNotInPath = map[string]bool{
	"ListResourceTags limit": true, "ListResourceTags after": true,
}

// FuzzAWSRequest: any JSON body, for any operation, is either refused with
// a client error or turned into fields of the operation's own path that
// the path's schema accepts; it never panics or fails as a server fault.
func FuzzAWSRequest(f *testing.F) {
	tb := newTestBackend(f)
	names := make([]string, 0, len(awsapi.Operations))
	for n := range awsapi.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, seed := range []string{`{}`, `null`, `[]`, `{"KeyId":"../"}`, `{"KeyId":1,"Plaintext":"aGk="}`,
		`{"Tags":[{"TagKey":"a","TagValue":"b"}],"KeySpec":"RSA_2048"}`, `{"Tags":[1]}`, `{"Tags":{"a":"b"}}`,
		`{"Constraints":{"EncryptionContextEquals":{"a":"b"}},"Operations":["Encrypt"],"GranteePrincipal":"entity:x"}`,
		`{"EncryptionContext":{"a":1}}`, `{"GrantTokens":["x",null]}`, `{"ValidTo":1e400}`, `{"ValidTo":"x"}`,
		`{"DryRun":true}`, `{"NumberOfBytes":-1}`, `{"Limit":1.5,"Marker":""}`, `{"TagKeys":[null]}`} {
		f.Add(uint8(len(seed)), []byte(seed))
	}
	for i, n := range names {
		// Every member of the operation, with a string where it may want
		// another type.
		body := map[string]any{}
		for _, m := range awsapi.Operations[n].Members {
			body[m] = "x"
		}
		raw, _ := json.Marshal(body)
		f.Add(uint8(i), raw)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		var in map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // as Vault hands the body to the plugin
		if dec.Decode(&in) != nil {
			return
		}
		name := names[int(which)%len(names)]
		op := awsapi.Operations[name]
		data, err := awsapi.Fields(name, in, op.Members)
		if err != nil {
			requireRefusal(t, err, "")
			return
		}
		p := tb.awsRoutes[name]
		for k := range data {
			if _, ok := p.Fields[k]; !ok && !awsFieldsNotInPath[name+" "+k] {
				t.Fatalf("%s: member mapped to %q, which path %s does not take", name, k, p.Pattern)
			}
		}
		fd := &framework.FieldData{Raw: data, Schema: p.Fields}
		_ = fd.Validate() // refused as a ValidationException by runAWS; must not panic
	})
}
