package awspolicy

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePrincipal(t *testing.T) {
	tests := []struct {
		in, canonical, index string
		ok                   bool
	}{
		{"entity:e1", "", "entity:e1", true},
		{"entity_name:Alice", "arn:aws:iam::111122223333:user/alice", "entity_name:alice", true},
		{"entity_name:a b", "entity_name:a b", "entity_name:a b", true},
		{"group:Payments", "arn:aws:iam::111122223333:role/payments", "group:payments", true},
		{"group_id:g1", "", "group_id:g1", true},
		{"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice", "entity_name:alice", true},
		{"arn:aws:iam::111122223333:user/team/Alice", "arn:aws:iam::111122223333:user/alice", "entity_name:alice", true},
		{"arn:aws:iam::111122223333:role/payments", "arn:aws:iam::111122223333:role/payments", "group:payments", true},
		{"arn:aws:sts::111122223333:assumed-role/payments/s", "arn:aws:iam::111122223333:role/payments", "group:payments", true},
		{"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root", "*", true},
		{"111122223333", "arn:aws:iam::111122223333:root", "*", true},
		{"444455556666", "arn:aws:iam::444455556666:root", "*", true},
		{"arn:aws:iam::444455556666:user/alice", "arn:aws:iam::444455556666:user/alice", "entity_name:alice", true},
		{"arn:aws-us-gov:iam::111122223333:user/alice", "arn:aws-us-gov:iam::111122223333:user/alice", "entity_name:alice", true},
		{"*", "", "", false},
		{"no_entity", "", "", false},
		{"entity:", "", "", false},
		{"user:alice", "", "", false},
		{"alice", "", "", false},
		{"arn:aws:iam::111122223333:user/", "", "", false},
		{"arn:aws:iam::111122223333:group/x", "", "", false},
		{"arn:aws:s3:::bucket", "", "", false},
		{"arn:aws:sts::111122223333:assumed-role/payments", "", "", false},
		{"12345", "", "", false},
	}
	for _, tc := range tests {
		p, err := ParsePrincipal(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePrincipal(%q): %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			continue
		}
		c, ok := p.Canonical(own)
		if c != tc.canonical || ok != (tc.canonical != "") || p.IndexKey() != tc.index || p.String() != tc.in {
			t.Errorf("ParsePrincipal(%q): canonical %q (%v), index %q, want %q, %q", tc.in, c, ok, p.IndexKey(), tc.canonical, tc.index)
		}
	}
	p, _ := ParsePrincipal("arn:aws:iam::111122223333:role/payments")
	a, b, none := *alice, *bob, *entityLess
	a.Account, b.Account, none.Account = own, own, own
	if !p.Names(&a, UseAllow) || p.Names(&b, UseAllow) || p.Names(&none, UseAllow) {
		t.Error("role/payments should name alice only")
	}
	acct, _ := ParsePrincipal("111122223333")
	other := b
	other.Account = Account{Partition: "aws", ID: "444455556666"}
	if !acct.Names(&b, UseAllow) || !acct.Names(&none, UseAllow) || acct.Names(&other, UseAllow) {
		t.Error("the account principal should name the callers of its own account only")
	}
}

// Item 1 of issue 21: names compare as Vault's identity store keys them
// (lower-cased), in statements, NotPrincipal, grants and index keys.
func TestNamesCompareAsVaultDoes(t *testing.T) {
	mallory := &Caller{EntityID: "id-m", EntityName: "Mallory", GroupNames: []string{"Ops"}, GroupIDs: []string{"gid-ops"}}
	deny := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::111122223333:user/mallory"]},"Action":"kms:Decrypt","Resource":"*"},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/OPS"},"Action":"kms:Encrypt","Resource":"*"},
		{"Effect":"Deny","Principal":{"Vault":"entity_name:MALLORY"},"Action":"kms:DescribeKey","Resource":"*"},
		{"Effect":"Deny","Principal":{"Vault":"group:ops"},"Action":"kms:GenerateDataKey","Resource":"*"}]}`)
	for _, op := range []string{"Decrypt", "Encrypt", "DescribeKey", "GenerateDataKey"} {
		if got := eval(deny, mallory, op); got != Deny {
			t.Errorf("%s: a Deny naming Mallory in another case gives %v", op, got)
		}
	}
	notMallory := mustParse(t, `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/MALLORY","111122223333"]},"Action":"kms:*","Resource":"*"}}`)
	if got := eval(notMallory, mallory, "Decrypt"); got != NoDecision {
		t.Errorf("NotPrincipal exempting MALLORY does not exempt Mallory: %v", got)
	}
	g, _ := ParsePrincipal("arn:aws:iam::111122223333:user/mALLORY")
	if !slices.Contains((&Caller{EntityID: "x", EntityName: "Mallory"}).IndexKeys(), g.IndexKey()) {
		t.Error("a grant to user/mALLORY is not filed under Mallory's index key")
	}
	// Vault's fold is strings.ToLower, not Unicode case folding: the long
	// s (U+017F) lower-cases to itself, so "ſam" and "sam" are two names.
	for _, pair := range [][2]string{{"ſam", "sam"}, {"ÉVE", "éve"}, {"Mallory", "mALLORY"}, {"a", "ab"}, {"", "a"},
		{"\xff", "\xfe"}, {"\xffA", "\xfea"}, {"K", "k"}, {"İ", "i"}, {"ß", "SS"}, {"Σ", "ς"}, {"Σ", "σ"}} {
		want := strings.ToLower(pair[0]) == strings.ToLower(pair[1])
		if SameName(pair[0], pair[1]) != want || SameName(pair[1], pair[0]) != want {
			t.Errorf("SameName(%q, %q) must be %v, as strings.ToLower compares", pair[0], pair[1], want)
		}
	}
}

// Item 3 of issue 21: a token without an entity could be anybody, so a
// Deny naming a user, role, entity or group applies to it; an Allow naming
// one never admits it.
func TestEntityLessCannotShedADenyNamingAPerson(t *testing.T) {
	for _, who := range []string{`{"AWS":"arn:aws:iam::111122223333:user/mallory"}`, `{"AWS":"arn:aws:iam::111122223333:role/ops"}`,
		`{"AWS":"arn:aws:sts::111122223333:assumed-role/ops/s1"}`, `{"Vault":"entity:id-m"}`, `{"Vault":"entity_name:mallory"}`,
		`{"Vault":"group:ops"}`, `{"Vault":"group_id:gid-ops"}`} {
		p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Principal":`+who+`,"Action":"kms:Decrypt","Resource":"*"}]}`)
		if got := eval(p, entityLess, "Decrypt"); got != Deny {
			t.Errorf("Deny %s: an entity-less caller gets %v", who, got)
		}
		if got := eval(p, entityLess, "Encrypt"); got != Allow {
			t.Errorf("Deny %s on Decrypt: an entity-less caller's Encrypt gives %v", who, got)
		}
		if got := eval(p, bob, "Decrypt"); got != Allow {
			t.Errorf("Deny %s: bob gets %v", who, got)
		}
		allow := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":`+who+`,"Action":"kms:*","Resource":"*"}}`)
		if got := eval(allow, entityLess, "Decrypt"); got != NoDecision {
			t.Errorf("Allow %s admits an entity-less caller: %v", who, got)
		}
	}
	// Another account's user is nobody here, entity-less callers included.
	p := mustParse(t, `{"Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::444455556666:user/mallory"},"Action":"kms:*","Resource":"*"}}`)
	if got := eval(p, entityLess, "Decrypt"); got != NoDecision {
		t.Errorf("a Deny naming another account's user applies to an entity-less caller: %v", got)
	}
}

// Item 3 of issue 21, in conditions: a Deny naming a person through
// aws:username, aws:PrincipalArn or aws:PrincipalTag applies to a caller
// without an entity when its other conditions hold; Null conditions test
// presence as written.
func TestEntityLessCannotShedDenyByCondition(t *testing.T) {
	allow := `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`
	for cond, want := range map[string]Decision{
		`{"StringEquals":{"aws:username":"mallory"}}`:                                                Deny,
		`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/mal*"}}`:                     Deny,
		`{"StringEquals":{"aws:PrincipalTag/team":"red"}}`:                                           Deny,
		`{"StringEquals":{"aws:username":"mallory","kms:EncryptionContext:app":"x"}}`:                Allow,
		`{"StringEquals":{"aws:username":"mallory"},"StringLike":{"kms:EncryptionContext:app":"*"}}`: Allow,
		`{"Null":{"aws:username":"false"}}`:                                                          Allow,
		`{"StringEquals":{"kms:EncryptionContext:app":"x"}}`:                                         Allow,
	} {
		p := mustParse(t, `{"Version":"2012-10-17","Statement":[`+allow+`,{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":`+cond+`}]}`)
		if got := eval(p, entityLess, "Decrypt"); got != want {
			t.Errorf("Deny if %s, entity-less caller: %v, want %v", cond, got, want)
		}
		if got := eval(p, bob, "Decrypt"); got != Allow {
			t.Errorf("Deny if %s: bob gets %v", cond, got)
		}
	}
}

// Item 5 of issue 21: AWS's "deny everyone except Bob" pattern lists the
// account in NotPrincipal so the account itself is not denied. There the
// account names only the account principal itself, which no Vault caller
// is: everyone but Bob is denied.
func TestNotPrincipalAccountRootExemptsOnlyTheAccount(t *testing.T) {
	allowAll := `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`
	user := mustParse(t, `{"Version":"2012-10-17","Statement":[`+allowAll+`,{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/Bob","arn:aws:iam::111122223333:root"]},"Action":"kms:*","Resource":"*"}]}`)
	role := mustParse(t, `{"Version":"2012-10-17","Statement":[`+allowAll+`,{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::111122223333:assumed-role/payments/session-1","arn:aws:iam::111122223333:role/payments","111122223333"]},"Action":"kms:*","Resource":"*"}]}`)
	carol := &Caller{EntityID: "id-carol", EntityName: "carol", GroupNames: []string{"ops"}, GroupIDs: []string{"gid-ops"}}
	for _, tc := range []struct {
		p    *Policy
		c    *Caller
		want Decision
	}{
		{user, bob, Allow}, {user, alice, Deny}, {user, carol, Deny}, {user, entityLess, Deny},
		{role, alice, Allow}, {role, bob, Deny}, {role, carol, Deny}, {role, entityLess, Deny},
	} {
		if got := eval(tc.p, tc.c, "Decrypt"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.c, got, tc.want)
		}
	}
}

// Item 4 of issue 21: every spelling of one identity has one canonical
// form and answers with the same spellings.
func TestSpellingsOfOneIdentity(t *testing.T) {
	same := func(a, b string) {
		t.Helper()
		pa, _ := ParsePrincipal(a)
		pb, _ := ParsePrincipal(b)
		ca, _ := pa.Canonical(own)
		cb, _ := pb.Canonical(own)
		if ca != cb || !slices.Contains(pa.Spellings(own), cb) || !slices.Contains(pb.Spellings(own), ca) {
			t.Errorf("%s and %s: canonical %q and %q", a, b, ca, cb)
		}
	}
	same("111122223333", "arn:aws:iam::111122223333:root")
	same("group:Payments", "arn:aws:iam::111122223333:role/payments")
	same("arn:aws:sts::111122223333:assumed-role/payments/x", "arn:aws:iam::111122223333:role/Payments")
	same("entity_name:bob", "arn:aws:iam::111122223333:user/path/BOB")
	gid, _ := ParsePrincipal("group_id:g1")
	if gid.GroupID() != "g1" || !slices.Contains(gid.Named("Payments").Spellings(own), "arn:aws:iam::111122223333:role/payments") {
		t.Error("a resolved group id spells as its group")
	}
	root, _ := ParsePrincipal("arn:aws:iam::111122223333:root")
	if s := root.Spellings(own); !slices.Contains(s, "111122223333") {
		t.Errorf("the account root spells as the bare id too: %v", s)
	}
}
