package awspolicy

import (
	"errors"
	"strings"
	"testing"
)

// mustRefuse parses doc and wants an *Error whose text holds every part.
func mustRefuse(t *testing.T, doc string, parts ...string) {
	t.Helper()
	_, err := Parse(doc, testActions)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("Parse accepted (or failed oddly: %v):\n%s", err, doc)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

const allowAll = `"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"`

// A bare operator on a multivalued key is refused, naming the key and the
// two set operators; with either set operator it is accepted.
func TestBareOperatorOnMultivaluedKeyRefused(t *testing.T) {
	for _, key := range []string{"kms:EncryptionContextKeys", "kms:GrantOperations", "aws:TagKeys", "kms:ResourceAliases", "KMS:encryptioncontextkeys"} {
		for _, op := range []string{"StringEquals", "StringNotEquals", "StringLike", "StringEqualsIfExists"} {
			cond := `{"` + op + `":{"` + key + `":"x"}}`
			mustRefuse(t, `{"Version":"2012-10-17","Statement":{`+allowAll+`,"Condition":`+cond+`}}`,
				key, "ForAnyValue:"+op, "ForAllValues:"+op)
			for _, q := range []string{"ForAnyValue:", "ForAllValues:"} {
				mustParse(t, `{"Version":"2012-10-17","Statement":{`+allowAll+`,"Condition":{"`+q+op+`":{"`+key+`":"x"}}}}`)
			}
		}
		mustParse(t, `{"Version":"2012-10-17","Statement":{`+allowAll+`,"Condition":{"Null":{"`+key+`":"true"}}}}`)
	}
}

// Resource and NotResource substitute policy variables as conditions do,
// so a Deny on a variable Resource applies.
func TestResourceVariables(t *testing.T) {
	const arnPrefix = "arn:aws:kms:us-east-1:111122223333:key/"
	doc := `{"Version":"2012-10-17","Statement":[
		{"Sid":"all","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		{"Sid":"own","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"` + arnPrefix + `${aws:username}"},
		{"Sid":"tag","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"` + arnPrefix + `${aws:PrincipalTag/team, 'nobody'}-*"}]}`
	p := mustParse(t, doc)
	ask := func(action, resource string, k Keys) Decision {
		d, _ := p.Evaluate(&Request{Caller: alice, Action: action, Resource: resource, Account: own, Keys: k})
		return d
	}
	if d := ask("Decrypt", arnPrefix+"alice", keys("aws:username", "alice")); d != Deny {
		t.Errorf("Deny on Resource .../${aws:username}: %v, want deny", d)
	}
	if d := ask("Decrypt", arnPrefix+"alice", keys("aws:username", "bob")); d != Allow {
		t.Errorf("another user: %v, want allow", d)
	}
	if d := ask("Decrypt", arnPrefix+"${aws:username}", keys("aws:username", "bob")); d != Allow {
		t.Errorf("the literal text matched: %v, want allow", d)
	}
	if d := ask("Encrypt", arnPrefix+"nobody-1", Keys{}); d != Deny {
		t.Errorf("default of an absent tag: %v, want deny", d)
	}
	if d := ask("Encrypt", arnPrefix+"pay-1", keys("aws:PrincipalTag/team", "pay")); d != Deny {
		t.Errorf("tag value: %v, want deny", d)
	}
	if d := ask("Encrypt", arnPrefix+"pa*-1", keys("aws:PrincipalTag/team", "pa*")); d != Deny {
		t.Errorf("substituted text is literal: %v, want deny", d)
	}
	if d := ask("Encrypt", arnPrefix+"pay-1", keys("aws:PrincipalTag/team", "pa*")); d != Allow {
		t.Errorf("a * from a variable globbed: %v, want allow", d)
	}
}

// Wildcards match within one ARN segment, and the service segment takes
// none.
func TestResourceWildcardsStayInTheirSegment(t *testing.T) {
	resources := map[string]struct {
		arn  string
		want Decision
	}{
		"arn:aws:kms:us-east-1:111122223333:key/*":   {keyARN, Allow},
		"arn:aws:kms:*:111122223333:key/*":           {keyARN, Allow},
		"arn:aws:kms:us-east-1:*:*":                  {keyARN, Allow},
		"arn:aws:kms:us-east-?:111122223333:key/*":   {keyARN, Allow},
		"arn:aws:kms:us-east-1:111122223333:alias/*": {keyARN, NoDecision},
		// A * of the region segment cannot swallow "us-east-1:1111".
		"arn:aws:kms:*22223333:key/*": {keyARN, NoDecision},
		// ? does not match the ":" between region and account.
		"arn:aws:kms:us-east-1?111122223333:key/*": {keyARN, NoDecision},
		"arn:aws:kms:us-east-1:111122223333?key/*": {keyARN, NoDecision},
	}
	for res, tc := range resources {
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"` + res + `"}}`
		p, err := Parse(doc, testActions)
		if err != nil {
			if tc.want != NoDecision {
				t.Errorf("%s: %v", res, err)
			}
			continue
		}
		if d, _ := p.Evaluate(&Request{Caller: alice, Action: "Encrypt", Resource: tc.arn, Account: own}); d != tc.want {
			t.Errorf("Resource %s on %s: %v, want %v", res, tc.arn, d, tc.want)
		}
	}
	for _, res := range []string{"arn:aws:*:us-east-1:111122223333:key/*", "arn:aws:km?:us-east-1:111122223333:key/*", "arn:aws:kms:*", "key/*"} {
		mustRefuse(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"`+res+`"}}`, "Statement[0].Resource")
		mustRefuse(t, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","NotResource":"`+res+`"}}`, "Statement[0].NotResource")
	}
}

// A member given twice, at any depth, is refused naming its path.
func TestDuplicateMembersRefused(t *testing.T) {
	for doc, path := range map[string]string{
		`{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Effect":"Allow"}}`:                                                           "Statement.Effect",
		`{"Statement":[{` + allowAll + `}],"Statement":[{` + allowAll + `}]}`:                                                                                        "Statement",
		`{"Version":"2012-10-17","Version":"2012-10-17","Statement":{` + allowAll + `}}`:                                                                             "Version",
		`{"Statement":[{` + allowAll + `},{"Effect":"Deny","Principal":{"AWS":"*","AWS":"*"},"Action":"kms:*","Resource":"*"}]}`:                                     "Statement[1].Principal.AWS",
		`{"Statement":[{` + allowAll + `,"Principal":"*"}]}`:                                                                                                         "Statement[0].Principal",
		`{"Statement":{` + allowAll + `,"Condition":{"Bool":{"aws:SecureTransport":"true"},"Bool":{"aws:SecureTransport":"true"}}}}`:                                 "Statement.Condition.Bool",
		`{"Statement":{` + allowAll + `,"Condition":{"StringEquals":{"kms:EncryptionContext:a":"x","kms:EncryptionContext:a":"y"}}}}`:                                "Statement.Condition.StringEquals.kms:EncryptionContext:a",
		`{"Statement":{` + allowAll + `,"Condition":{"StringEquals":{"kms:EncryptionContext:a":"x"}},"Condition":{"StringEquals":{"kms:EncryptionContext:a":"x"}}}}`: "Statement.Condition",
	} {
		mustRefuse(t, doc, path+": ", "twice")
	}
	// The same name in two different objects is no duplicate.
	mustParse(t, `{"Statement":[{`+allowAll+`},{`+allowAll+`}]}`)
}

// Every action of AWS KMS is accepted (and matches nothing the plugin
// does not do); an action AWS does not define is refused.
func TestEveryAWSActionIsValid(t *testing.T) {
	for _, a := range []string{"kms:ReplicateKey", "kms:CreateCustomKeyStore", "kms:ConnectCustomKeyStore", "kms:SynchronizeMultiRegionKey",
		"kms:UpdatePrimaryRegion", "kms:GenerateDataKeyPair", "kms:GenerateRandom", "kms:ListKeys", "kms:ListRetirableGrants", "kms:describecustomkeystores"} {
		doc := `{"Statement":{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt","` + a + `"],"Resource":"*"}}`
		p := mustParse(t, doc)
		if d := eval(p, alice, "Encrypt"); d != Allow {
			t.Errorf("%s next to kms:Encrypt: Encrypt is %v", a, d)
		}
		if d := eval(p, alice, "Decrypt"); d != NoDecision {
			t.Errorf("%s allowed Decrypt: %v", a, d)
		}
	}
	for _, a := range []string{"kms:ReEncrypt", "kms:EncryptEverything", "kms:Replicate", "s3:GetObject"} {
		mustRefuse(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"`+a+`","Resource":"*"}}`, "Statement[0].Action")
	}
}

// The worst policy within the budget parses; one more pattern does not.
func TestPatternBudget(t *testing.T) {
	mustParse(t, worstPolicyWithinBudget())
	vals := make([]string, MaxPatternCost+1)
	for i := range vals {
		vals[i] = `"a*"`
	}
	over := `{"Statement":{` + allowAll + `,"Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":[` + strings.Join(vals, ",") + `]}}}}`
	mustRefuse(t, over, "limit of 256")
	// A ? run of 65..128 characters counts 2.
	wide := `"*` + strings.Repeat("?", 100) + `*"`
	vals = vals[:MaxPatternCost/2]
	for i := range vals {
		vals[i] = wide
	}
	at := `{"Statement":{` + allowAll + `,"Condition":{"StringLike":{"kms:EncryptionContext:a":[` + strings.Join(vals, ",") + `]}}}}`
	mustParse(t, at)
	mustRefuse(t, strings.Replace(at, `[`, `["a*",`, 1), "limit of 256")
	// A policy variable in a ? segment counts as wide as an encryption
	// context (8192 runes, 128 words): its text is known only at
	// evaluation. Elsewhere it costs nothing more.
	narrowed := `{"Version":"2012-10-17","Statement":{` + allowAll + `,"Condition":{"StringLike":{"kms:EncryptionContext:a":["?${kms:EncryptionContext:b}*","*?${aws:username}"]}}}}`
	mustRefuse(t, narrowed, "cost 258")
	mustParse(t, strings.Replace(narrowed, `"*?${aws:username}"`, `"*${aws:username}*?"`, 1))
	// In 2008-10-17 ${...} is text, not a variable.
	mustParse(t, strings.Replace(narrowed, "2012-10-17", "2008-10-17", 1))
	// Exact values (no wildcard) cost nothing.
	vals = vals[:0]
	for range 1000 {
		vals = append(vals, `"x"`)
	}
	mustParse(t, `{"Statement":{`+allowAll+`,"Condition":{"StringEquals":{"kms:EncryptionContext:a":[`+strings.Join(vals, ",")+`]}}}}`)
}
