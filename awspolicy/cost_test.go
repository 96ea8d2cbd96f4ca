package awspolicy

import (
	"fmt"
	"strings"
	"testing"
)

// TestConditionCostIsLinear: a condition with n values against a key with
// n request values reads (parses, substitutes, compiles) each value once,
// so its allocations grow with n, not n*n. Before, every pair parsed its
// number or date again, rebuilt its glob matcher or converted its
// substituted text: a 32 KB policy within the pattern budget held a core
// for seconds per request (BenchmarkVariablesWithinBudget).
func TestConditionCostIsLinear(t *testing.T) {
	const n = 250
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("k%03d", i)
	}
	k := keys("kms:EncryptionContextKeys", names, "kms:EncryptionContext:v", strings.Repeat("a", 100))
	list := func(f func(i int) string) string {
		v := make([]string, n)
		for i := range v {
			v[i] = `"` + f(i) + `"`
		}
		return "[" + strings.Join(v, ",") + "]"
	}
	cases := map[string]string{
		"StringLike, variable": `{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("*%d${kms:EncryptionContext:v}*", i) }) + `}}`,
		"StringEquals, variable": `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("%d${kms:EncryptionContext:v}", i) }) + `}}`,
		"StringEqualsIgnoreCase": `{"ForAnyValue:StringEqualsIgnoreCase":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("v%d", i) }) + `}}`,
		"NumericEquals": `{"ForAnyValue:NumericEquals":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprint(i) }) + `}}`,
		"DateEquals": `{"ForAnyValue:DateEquals":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("2026-01-01T00:%02d:%02dZ", i/60, i%60) }) + `}}`,
		"IpAddress": `{"ForAnyValue:IpAddress":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("10.0.%d.0/24", i%256) }) + `}}`,
		"ArnLike": `{"ForAnyValue:ArnLike":{"kms:EncryptionContextKeys":` +
			list(func(i int) string { return fmt.Sprintf("arn:aws:kms:*:1:key/%d*", i) }) + `}}`,
	}
	for name, cond := range cases {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":` + cond + `}]}`
		p, err := Parse(doc, testActions)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own, Keys: k}
		allocs := testing.AllocsPerRun(2, func() {
			if d, _ := p.Evaluate(r); d != NoDecision {
				t.Fatalf("%s: %v", name, d)
			}
		})
		// A few allocations per value on each side; n*n would be 62,500.
		if limit := float64(40 * 2 * n); allocs > limit {
			t.Errorf("%s: %.0f allocations for %d values against %d request values, more than %.0f", name, allocs, n, n, limit)
		}
	}
}

// TestResourceCostIsLinear: Resource values are read once, at parse.
func TestResourceCostIsLinear(t *testing.T) {
	v := make([]string, 800)
	for i := range v {
		v[i] = fmt.Sprintf(`"arn:aws:kms:*:1:key/%d*"`, i)
	}
	p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":[`+strings.Join(v, ",")+`]}]}`, testActions)
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own, Keys: Keys{}}
	if allocs := testing.AllocsPerRun(2, func() { p.Evaluate(r) }); allocs > 20 {
		t.Errorf("%.0f allocations to match the key's ARN against %d Resource values", allocs, len(v))
	}
}

// TestRequestValuesReadOncePerEvaluation: many conditions on one key (in
// as many Deny statements, or under case variants of the key's name in
// one statement) read each request value once, not once per condition.
// Before, 200 statements of ForAllValues:DateNotEquals against 2,000
// context keys parsed 400,000 dates: 1.5 s per evaluation.
func TestRequestValuesReadOncePerEvaluation(t *testing.T) {
	const n, conds = 250, 200
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("2026-01-01T%04d", i)
	}
	names[n-1] = "2026-01-01" // the last value fails each condition
	k := keys("kms:EncryptionContextKeys", names)
	stmts := make([]string, conds)
	for i := range stmts {
		stmts[i] = `{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAllValues:DateNotEquals":{"kms:EncryptionContextKeys":"2026-01-01"}}}`
	}
	variants := make([]string, 0, conds)
	for i := range conds {
		name := []byte("kms:encryptioncontextkeys")
		for j := 0; j < 8; j++ {
			if i>>j&1 == 1 {
				name[4+j] -= 'a' - 'A'
			}
		}
		// Conditions are ANDed: each holds, so that each is evaluated.
		variants = append(variants, fmt.Sprintf(`"%s":"x"`, name))
	}
	docs := map[string]struct {
		doc  string
		want Decision
	}{
		"statements": {`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`, NoDecision},
		"case variants": {`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",` +
			`"Condition":{"ForAllValues:StringNotEqualsIgnoreCase":{` + strings.Join(variants, ",") + `}}}}`, Deny},
	}
	for name, tc := range docs {
		p, err := Parse(tc.doc, testActions)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own, Keys: k}
		allocs := testing.AllocsPerRun(2, func() {
			if d, _ := p.Evaluate(r); d != tc.want {
				t.Fatalf("%s: %v", name, d)
			}
		})
		if limit := float64(40 * n); allocs > limit {
			t.Errorf("%s: %.0f allocations for %d conditions against %d request values, more than %.0f", name, allocs, conds, n, limit)
		}
	}
}
