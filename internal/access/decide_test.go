package access

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openkms/vault-plugin-kms/awspolicy"
)

// ident is an entity-bearing caller of the test account.
func ident(id, name string, groups ...string) *awspolicy.Caller {
	c := &awspolicy.Caller{EntityID: id, EntityName: name, Account: testAccount}
	for _, g := range groups {
		c.GroupNames = append(c.GroupNames, g)
		c.GroupIDs = append(c.GroupIDs, "id-"+g)
	}
	return c
}

func mustParse(t *testing.T, statements ...map[string]any) *awspolicy.Policy {
	t.Helper()
	for _, s := range statements {
		s["Resource"] = "*"
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func vault(names ...string) map[string]any { return map[string]any{"Vault": names} }

func request(p *awspolicy.Policy, who *awspolicy.Caller, op string, ec map[string]string) *Request {
	return &Request{Caller: who, Op: op, EC: ec, Account: testAccount, Now: time.Now(),
		Key: Key{ID: "k", ARN: "arn:aws:kms:us-east-1:000000000000:key/k", Policy: p}}
}

func TestPolicyEvaluate(t *testing.T) {
	p := mustParse(t,
		map[string]any{"Sid": "payments", "Effect": "Allow", "Principal": vault("group:payments"), "Action": []string{"kms:Encrypt", "kms:Decrypt"}},
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": vault("entity:admin"), "Action": "kms:*"},
		map[string]any{"Sid": "ctx", "Effect": "Allow", "Principal": vault("entity_name:bob"), "Action": "kms:Encrypt",
			"Condition": map[string]any{"StringEquals": map[string]string{"kms:EncryptionContext:app": "x"}}},
		map[string]any{"Sid": "no-mallory", "Effect": "Deny", "Principal": vault("entity:mallory"), "Action": "kms:*"},
		map[string]any{"Sid": "no-secret-ctx", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
			"Condition": map[string]any{"StringEquals": map[string]string{"kms:EncryptionContext:class": "secret"},
				"ForAllValues:StringEquals": map[string]any{"kms:EncryptionContextKeys": []string{"class"}}}})
	alice, bob, admin := ident("alice", "alice", "payments"), ident("bob", "bob"), ident("admin", "")
	mallory := ident("mallory", "", "payments")
	root := &awspolicy.Caller{EntityLess: true, Account: testAccount}
	cases := []struct {
		who  *awspolicy.Caller
		op   string
		ec   map[string]string
		want Verdict
		by   string
	}{
		{alice, "Encrypt", nil, Allowed, "payments"},
		{alice, "Decrypt", map[string]string{"k": "v"}, Allowed, "payments"},
		{alice, "Sign", nil, NoDecision, ""},
		{alice, "Decrypt", map[string]string{"class": "secret"}, Denied, "no-secret-ctx"},
		{bob, "Encrypt", map[string]string{"app": "x", "more": "y"}, Allowed, "ctx"},
		{bob, "Encrypt", map[string]string{"app": "y"}, NoDecision, ""},
		{bob, "Encrypt", nil, NoDecision, ""},
		{bob, "Decrypt", map[string]string{"app": "x"}, NoDecision, ""},
		{admin, "PutKeyPolicy", nil, Allowed, "admin"},
		{admin, "ScheduleKeyDeletion", nil, Allowed, "admin"},
		{mallory, "Encrypt", nil, Denied, "no-mallory"},
		// A token without an entity could be mallory: the Deny naming her
		// applies to it (issue 21, item 3).
		{root, "Encrypt", nil, Denied, "no-mallory"},
		{root, "Decrypt", map[string]string{"class": "secret"}, Denied, "no-mallory"},
	}
	for i, c := range cases {
		got, by, err := PolicyVerdict(context.Background(), request(p, c.who, c.op, c.ec))
		if err != nil || got != c.want || by != c.by {
			t.Fatalf("case %d: got %v %q %v, want %v %q", i, got, by, err, c.want, c.by)
		}
	}
	if got, _, _ := PolicyVerdict(context.Background(), request(nil, root, "Encrypt", nil)); got != Allowed {
		t.Fatal("the default policy does not let every caller through")
	}
}

// Decide: a Deny beats a grant; a grant admits what the policy leaves
// open; without a grant lookup only the policy counts; the caller's
// standing admits before the policy. Every decision names what decided.
func TestDecide(t *testing.T) {
	p := mustParse(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": vault("entity:admin"), "Action": "kms:*"},
		map[string]any{"Sid": "no-mallory", "Effect": "Deny", "Principal": vault("entity:mallory"), "Action": "kms:*"})
	grant := func() (string, error) { return "g1", nil }
	cases := []struct {
		who      *awspolicy.Caller
		grant    func() (string, error)
		standing func() string
		want     Decision
	}{
		{ident("admin", "admin"), grant, nil, Decision{Verdict: Allowed, By: "policy statement admin", Statement: "admin"}},
		{ident("mallory", "mallory"), grant, nil, Decision{Verdict: Denied, By: "policy statement no-mallory", Statement: "no-mallory"}},
		{ident("bob", "bob"), grant, nil, Decision{Verdict: Allowed, By: "grant g1"}},
		{ident("bob", "bob"), func() (string, error) { return "", nil }, nil, Decision{Verdict: Denied, By: "no statement or grant allows it"}},
		{ident("bob", "bob"), nil, nil, Decision{Verdict: Denied, By: "no policy statement allows it"}},
		{ident("mallory", "mallory"), nil, func() string { return "retiring principal of grant g1" }, Decision{Verdict: Allowed, By: "retiring principal of grant g1"}},
	}
	for i, c := range cases {
		r := request(p, c.who, "Encrypt", nil)
		r.Grant, r.Standing = c.grant, c.standing
		got, err := Decide(context.Background(), r)
		if err != nil || got != c.want {
			t.Fatalf("case %d: got %+v %v, want %+v", i, got, err, c.want)
		}
	}
}

// In a batch, equal questions are evaluated once; another context is
// another question.
func TestDecisionMemo(t *testing.T) {
	p := mustParse(t, map[string]any{"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "kms:*"})
	var n atomic.Int64
	ctx := WithDecisionMemo(context.Background())
	for _, ec := range []map[string]string{{"a": "1"}, {"a": "1"}, {"a": "2"}} {
		r := request(p, ident("bob", "bob"), "Encrypt", ec)
		r.Evaluations = &n
		if v, _, err := PolicyVerdict(ctx, r); err != nil || v != Allowed {
			t.Fatalf("got %v %v", v, err)
		}
	}
	if n.Load() != 2 {
		t.Fatalf("%d evaluations, want 2", n.Load())
	}
}

// Found by the attacker's review: condition key names ignore case, so an
// encryption context with "dept" and "Dept" gave kms:EncryptionContext:dept
// two values, and a Deny "unless dept is hr" (StringNotEquals) did not
// apply to {"dept":"finance","Dept":"hr"}. Such a context is refused when
// the policy tests that key; elsewhere it is harmless and allowed.
func TestContextKeysDifferingOnlyInCase(t *testing.T) {
	p := mustParse(t,
		map[string]any{"Sid": "all", "Effect": "Allow", "Principal": vault("entity:alice"), "Action": "kms:*"},
		map[string]any{"Sid": "hr-only", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
			"Condition": map[string]any{"StringNotEquals": map[string]string{"kms:EncryptionContext:dept": "hr"}}})
	alice := ident("alice", "alice")
	ctx := context.Background()
	d, err := Decide(ctx, request(p, alice, "Decrypt", map[string]string{"dept": "finance"}))
	if err != nil || d.Verdict != Denied {
		t.Fatalf("dept=finance: %v %v, want denied", d, err)
	}
	// Refused as any denial is (the log, not the caller, learns why).
	d, err = Decide(ctx, request(p, alice, "Decrypt", map[string]string{"dept": "finance", "Dept": "hr"}))
	if err != nil || d.Verdict != Denied || d.Statement != "" || !strings.Contains(d.By, "differ only in case") {
		t.Fatalf("dept=finance, Dept=hr: %v %v, want denied for the case", d, err)
	}
	d, err = Decide(ctx, request(p, alice, "Decrypt", map[string]string{"dept": "hr"}))
	if err != nil || d.Verdict != Allowed {
		t.Fatalf("dept=hr: %v %v, want allowed", d, err)
	}
	// A policy that does not test the key does not care.
	open := mustParse(t, map[string]any{"Sid": "all", "Effect": "Allow", "Principal": vault("entity:alice"), "Action": "kms:*"})
	d, err = Decide(ctx, request(open, alice, "Decrypt", map[string]string{"app": "x", "App": "y"}))
	if err != nil || d.Verdict != Allowed {
		t.Fatalf("open policy: %v %v, want allowed", d, err)
	}
}
