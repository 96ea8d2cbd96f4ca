package access

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

var testAccount = awspolicy.Account{Partition: "aws", ID: "000000000000"}

func requireMalformed(t *testing.T, err error) *kmserr.Error {
	t.Helper()
	var ke *kmserr.Error
	if !errors.As(err, &ke) || ke.Type != kmserr.MalformedPolicy || ke.Code() >= 500 {
		t.Fatalf("error %v is not a %s", err, kmserr.MalformedPolicy)
	}
	return ke
}

// FuzzParsePolicy: a key policy document either parses or is a
// MalformedPolicyDocumentException, and parsing it again gives the same
// policy (a stored document means what it meant when it was put).
func FuzzParsePolicy(f *testing.F) {
	for _, seed := range []string{DefaultPolicyText(testAccount), "", "{}", "null", `{"statements":[]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Vault":["entity:e1","group:ops"]},"Action":["kms:Decrypt","kms:Encrypt"],` +
			`"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"a"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"Vault":"entity_name:bob"},"Action":"kms:Sign","Resource":"*"}]} {}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"x"},"Action":"kms:Sign","Resource":"*","extra":1}]}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParsePolicy(doc)
		if err != nil {
			requireMalformed(t, err)
			return
		}
		q, err := ParsePolicy(doc)
		if err != nil {
			t.Fatalf("a valid policy does not parse again: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("parsing %s twice gave two policies", doc)
		}
	})
}

// The plugin's pre-release format is refused with an error naming it, when
// put, and a stored document of it is enforced as deny-all (StoredPolicy).
func TestPreReleaseFormatRefused(t *testing.T) {
	legacy := `{"statements":[{"sid":"all","effect":"Allow","principals":["*","no_entity"],"operations":["*"]}]}`
	_, err := ParsePolicy(legacy)
	msg := requireMalformed(t, err).Error()
	for _, want := range []string{`{"statements": [...]}`, "no longer accepted", "AWS's key policy language"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not say %q", msg, want)
		}
	}
	if got, err := ParseStoredPolicy(legacy); got != RefusedPolicy || err != nil {
		t.Fatalf("a stored pre-release document is enforced as %v, not the deny-all policy", got)
	}
	who := &awspolicy.Caller{EntityID: "e1", EntityName: "alice", Account: testAccount}
	d, by := RefusedPolicy.Evaluate(&awspolicy.Request{Caller: who, Action: "Encrypt", Resource: "arn:aws:kms:us-east-1:000000000000:key/k", Account: testAccount})
	if d != awspolicy.Deny || by != RefusedPolicySid {
		t.Fatalf("the refused policy decides %v by %q", d, by)
	}
	if p := StoredPolicy(DefaultPolicyText(testAccount)); p == RefusedPolicy || p == nil {
		t.Fatal("a valid stored document is refused")
	}
}

func awsDoc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func TestParsePolicyErrors(t *testing.T) {
	stmt := `{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`
	bad := map[string]string{
		"not json":          `{`,
		"unknown field":     awsDoc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","resource":"x"}`),
		"no statements":     awsDoc(),
		"bad effect":        awsDoc(`{"Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*"}`),
		"no principals":     awsDoc(`{"Effect":"Allow","Principal":{"Vault":[]},"Action":"kms:*","Resource":"*"}`),
		"bad principal":     awsDoc(`{"Effect":"Allow","Principal":{"Vault":"user:alice"},"Action":"kms:*","Resource":"*"}`),
		"empty principal":   awsDoc(`{"Effect":"Allow","Principal":{"Vault":"entity:"},"Action":"kms:*","Resource":"*"}`),
		"no operations":     awsDoc(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}`),
		"unknown operation": awsDoc(`{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}`),
		"empty conditions":  awsDoc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{}}}`),
		"trailing data":     awsDoc(stmt) + ` {}`,
	}
	for _, doc := range bad {
		_, err := ParsePolicy(doc)
		requireMalformed(t, err)
	}
	_, err := ParsePolicy(`{"Version":"2012-10-17","Statement":[` + stmt + `],"Id":` + fmt.Sprintf("%q", make([]byte, awspolicy.MaxSize)) + `}`)
	requireMalformed(t, err)
	if _, err := ParsePolicy(awsDoc(stmt)); err != nil {
		t.Fatal(err)
	}
}
