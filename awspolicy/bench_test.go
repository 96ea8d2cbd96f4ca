package awspolicy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate: a typical key policy (an owner, a role with a
// context condition, a conditional Deny) against one request.
func BenchmarkEvaluate(b *testing.B) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[
		{"Sid":"owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
		{"Sid":"payments","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/payments"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
		 "Condition":{"StringEquals":{"kms:EncryptionContext:app":"payments"},"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["app","order-*"]}}},
		{"Sid":"no-secret","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:class":"secret"}}}]}`, testActions)
	if err != nil {
		b.Fatal(err)
	}
	k := keys("kms:EncryptionContext:app", "payments", "kms:EncryptionContext:order-id", "42", "kms:EncryptionContextKeys", []string{"app", "order-id"})
	r := &Request{Caller: alice, Action: "Decrypt", Resource: keyARN, Account: own, Keys: k}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != Allow {
			b.Fatal(d)
		}
	}
}

// worstPolicyWithinBudget is the costliest policy the pattern budget
// admits for the matcher: MaxWildcardPatterns StringLike values, each a
// long literal between two *s that almost matches the request's value
// (so a backtracking matcher retries it at every offset), near MaxSize.
func worstPolicyWithinBudget() string {
	vals := make([]string, 0, 256)
	for i := 0; i < 256; i++ {
		vals = append(vals, `"*`+strings.Repeat("a", 100)+`b*"`)
	}
	return `{"Version":"2012-10-17","Statement":[{"Sid":"costly","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
		"Condition":{"StringLike":{"kms:EncryptionContext:data":[` + strings.Join(vals, ",") + `]}}}]}`
}

// BenchmarkWorstPolicyWithinBudget evaluates the worst policy within the
// budget against an encryption context of 8 KB that no pattern matches.
func BenchmarkWorstPolicyWithinBudget(b *testing.B) {
	doc := worstPolicyWithinBudget()
	p, err := Parse(doc, testActions)
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own,
		Keys: keys("kms:EncryptionContext:data", strings.Repeat("a", 8*1024))}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != NoDecision {
			b.Fatal(d)
		}
	}
}

// BenchmarkManyValuesWithinBudget: the budget's patterns against the most
// request values an 8 KB encryption context holds in practice (2,000 keys
// under ForAnyValue), the other way to multiply the work.
func BenchmarkManyValuesWithinBudget(b *testing.B) {
	vals := make([]string, 0, MaxPatternCost)
	for i := range MaxPatternCost {
		vals = append(vals, fmt.Sprintf(`"*x%d*"`, i))
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
		"Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":[` + strings.Join(vals, ",") + `]}}}]}`
	p, err := Parse(doc, testActions)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 2000)
	for i := range names {
		names[i] = fmt.Sprintf("k%03d", i)
	}
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own, Keys: keys("kms:EncryptionContextKeys", names)}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != NoDecision {
			b.Fatal(d)
		}
	}
}

// BenchmarkVariablesWithinBudget: the budget's patterns each holding a
// policy variable whose value is long (4 KB of the context), against 1,000
// request values. Substituted values are read once per evaluation; read
// once per pair, as before, this took about 30 s per evaluation.
func BenchmarkVariablesWithinBudget(b *testing.B) {
	vals := make([]string, 0, MaxPatternCost)
	for i := range MaxPatternCost {
		vals = append(vals, fmt.Sprintf(`"*%d${kms:EncryptionContext:big}*"`, i))
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
		"Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":[` + strings.Join(vals, ",") + `]}}}]}`
	p, err := Parse(doc, testActions)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("k%03d", i)
	}
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own,
		Keys: keys("kms:EncryptionContextKeys", names, "kms:EncryptionContext:big", strings.Repeat("a", 4096))}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != NoDecision {
			b.Fatal(d)
		}
	}
}

// BenchmarkExactVariablesWithinBudget: exact values cost nothing in the
// budget, so a 32 KB policy holds 1,000 of them, each substituting an
// 8 KB context value. Substituted as plain text they cost a copy each
// (about 8 ms); built as globs rune by rune they cost 170 ms.
func BenchmarkExactVariablesWithinBudget(b *testing.B) {
	vals := make([]string, 0, 1000)
	for i := range 1000 {
		vals = append(vals, fmt.Sprintf(`"${kms:EncryptionContext:b}%d"`, i))
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*",
		"Condition":{"StringEquals":{"kms:EncryptionContext:b":[` + strings.Join(vals, ",") + `]}}}]}`
	p, err := Parse(doc, testActions)
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own,
		Keys: keys("kms:EncryptionContext:b", strings.Repeat("a", 8000))}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != NoDecision {
			b.Fatal(d)
		}
	}
}

// BenchmarkManyStatementsOneKey: as many Deny statements as 32 KB hold,
// each a date condition over kms:EncryptionContextKeys, against 2,000
// date-like context keys (the last fails each condition, so every one is
// evaluated). Each value is parsed once per evaluation (about 12 ms);
// parsed once per condition, as before, this took 1.5 s.
func BenchmarkManyStatementsOneKey(b *testing.B) {
	const stmt = `{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAllValues:DateNotEquals":{"kms:EncryptionContextKeys":"2026-01-01"}}}`
	stmts := make([]string, (MaxSize-100)/(len(stmt)+1))
	for i := range stmts {
		stmts[i] = stmt
	}
	p, err := Parse(`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`, testActions)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 2000)
	for i := range names {
		names[i] = fmt.Sprintf("2026-01-01T%04d", i)
	}
	names[len(names)-1] = "2026-01-01"
	r := &Request{Caller: alice, Action: "Encrypt", Resource: keyARN, Account: own, Keys: keys("kms:EncryptionContextKeys", names)}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != NoDecision {
			b.Fatal(d)
		}
	}
}
