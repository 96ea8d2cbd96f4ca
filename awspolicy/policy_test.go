package awspolicy

import (
	"errors"
	"strings"
	"testing"
)

var (
	alice      = &Caller{EntityID: "id-alice", EntityName: "alice", GroupNames: []string{"payments"}, GroupIDs: []string{"gid-payments"}}
	bob        = &Caller{EntityID: "id-bob", EntityName: "bob"}
	entityLess = &Caller{EntityLess: true}
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse(doc, testActions)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func eval(p *Policy, c *Caller, action string) Decision {
	d, _ := p.Evaluate(&Request{Caller: c, Action: action, Resource: keyARN, Account: own})
	return d
}

func TestParseMalformedNamesTheElement(t *testing.T) {
	const ok = `"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"`
	tests := map[string]struct{ doc, element string }{
		"not JSON":              {`{"Statement":`, ""},
		"not an object":         {`[]`, ""},
		"trailing data":         {`{"Statement":{` + ok + `}} {}`, ""},
		"trailing garbage":      {`{"Statement":{` + ok + `}} x`, ""},
		"trailing in statement": {`{"Statement":[{` + ok + `}]}]`, ""},
		"unknown top element":   {`{"Statement":{` + ok + `},"Foo":1}`, "Foo"},
		"lower-case element":    {`{"statement":{` + ok + `}}`, "statement"},
		"bad version":           {`{"Version":"2020-01-01","Statement":{` + ok + `}}`, "Version"},
		"version not a string":  {`{"Version":2012,"Statement":{` + ok + `}}`, "Version"},
		"Id not a string":       {`{"Id":1,"Statement":{` + ok + `}}`, "Id"},
		"no Statement":          {`{"Version":"2012-10-17"}`, "Statement"},
		"empty Statement list":  {`{"Statement":[]}`, "Statement"},
		"Statement a string":    {`{"Statement":"x"}`, ""},
		"unknown statement el":  {`{"Statement":{` + ok + `,"Foo":1}}`, "Statement[0].Foo"},
		"Sid not a string":      {`{"Statement":{` + ok + `,"Sid":1}}`, "Statement[0].Sid"},
		"duplicate Sid":         {`{"Statement":[{` + ok + `,"Sid":"a"},{` + ok + `,"Sid":"a"}]}`, "Statement[1].Sid"},
		"bad Effect":            {`{"Statement":{"Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*"}}`, "Statement[0].Effect"},
		"lower-case Effect":     {`{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, "Statement[0].Effect"},
		"no Effect":             {`{"Statement":{"Principal":"*","Action":"kms:*","Resource":"*"}}`, "Statement[0].Effect"},
		"no Principal":          {`{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"both Principals":       {`{"Statement":{` + ok + `,"NotPrincipal":{"AWS":"111122223333"}}}`, "Statement[0].Principal"},
		"Principal a name":      {`{"Statement":{"Effect":"Allow","Principal":"alice","Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal type":        {`{"Statement":{"Effect":"Allow","Principal":{"Federated":"x"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal empty obj":   {`{"Statement":{"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal bad ARN":     {`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:user/x"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal group ARN":   {`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/x"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal ARN glob":    {`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Vault bad kind":        {`{"Statement":{"Effect":"Allow","Principal":{"Vault":"user:alice"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Vault empty name":      {`{"Statement":{"Effect":"Allow","Principal":{"Vault":"entity:"},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"Principal list bad":    {`{"Statement":{"Effect":"Allow","Principal":{"AWS":[1]},"Action":"kms:*","Resource":"*"}}`, "Statement[0].Principal"},
		"no Action":             {`{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`, "Statement[0].Action"},
		"both Actions":          {`{"Statement":{` + ok + `,"NotAction":"kms:Encrypt"}}`, "Statement[0].Action"},
		"unknown action":        {`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Frobnicate","Resource":"*"}}`, "Statement[0].Action"},
		"other service":         {`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}`, "Statement[0].Action"},
		"bare action name":      {`{"Statement":{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}}`, "Statement[0].Action"},
		"empty action list":     {`{"Statement":{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}}`, "Statement[0].Action"},
		"bad NotAction":         {`{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"kms:Nope","Resource":"*"}}`, "Statement[0].NotAction"},
		"no Resource":           {`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}`, "Statement[0].Resource"},
		"bad Resource":          {`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"key/1"}}`, "Statement[0].Resource"},
		"both Resources":        {`{"Statement":{` + ok + `,"NotResource":"*"}}`, "Statement[0].Resource"},
		"Condition not object":  {`{"Statement":{` + ok + `,"Condition":"x"}}`, "Statement[0].Condition"},
		"Condition empty":       {`{"Statement":{` + ok + `,"Condition":{}}}`, "Statement[0].Condition"},
		"unknown operator":      {`{"Statement":{` + ok + `,"Condition":{"StringMatches":{"a":"b"}}}}`, "Statement[0].Condition"},
		"unknown qualifier":     {`{"Statement":{` + ok + `,"Condition":{"ForSomeValues:StringEquals":{"a":"b"}}}}`, "Statement[0].Condition"},
		"qualified Null":        {`{"Statement":{` + ok + `,"Condition":{"ForAnyValue:Null":{"a":"true"}}}}`, "Statement[0].Condition"},
		"Null not a bool":       {`{"Statement":{` + ok + `,"Condition":{"Null":{"a":"maybe"}}}}`, "Statement[0].Condition"},
		"NullIfExists":          {`{"Statement":{` + ok + `,"Condition":{"NullIfExists":{"a":"true"}}}}`, "Statement[0].Condition"},
		"operator not object":   {`{"Statement":{` + ok + `,"Condition":{"StringEquals":"a"}}}`, "Statement[0].Condition"},
		"empty key":             {`{"Statement":{` + ok + `,"Condition":{"StringEquals":{"":"a"}}}}`, "Statement[0].Condition"},
		"no values":             {`{"Statement":{` + ok + `,"Condition":{"StringEquals":{"a":[]}}}}`, "Statement[0].Condition"},
		"object value":          {`{"Statement":{` + ok + `,"Condition":{"StringEquals":{"a":{"b":1}}}}}`, "Statement[0].Condition"},
		"null value":            {`{"Statement":{` + ok + `,"Condition":{"StringEquals":{"a":null}}}}`, "Statement[0].Condition"},
		"bad number":            {`{"Statement":{` + ok + `,"Condition":{"NumericLessThan":{"a":"ten"}}}}`, "Statement[0].Condition"},
		"infinite number":       {`{"Statement":{` + ok + `,"Condition":{"NumericLessThan":{"a":"Inf"}}}}`, "Statement[0].Condition"},
		"bad date":              {`{"Statement":{` + ok + `,"Condition":{"DateLessThan":{"a":"tomorrow"}}}}`, "Statement[0].Condition"},
		"bad bool":              {`{"Statement":{` + ok + `,"Condition":{"Bool":{"a":"yes"}}}}`, "Statement[0].Condition"},
		"bad ARN":               {`{"Statement":{` + ok + `,"Condition":{"ArnLike":{"a":"arn:*:user/alice"}}}}`, "Statement[0].Condition"},
		"bad IP":                {`{"Statement":{` + ok + `,"Condition":{"IpAddress":{"a":"10.0.0.0/99"}}}}`, "Statement[0].Condition"},
		"second statement":      {`{"Statement":[{` + ok + `},{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Foo":1}]}`, "Statement[1].Foo"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.doc, testActions)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%s) = %v, want an *Error", tc.doc, err)
			}
			if pe.Element != tc.element {
				t.Errorf("Parse(%s): element %q (%v), want %q", tc.doc, pe.Element, err, tc.element)
			}
			if tc.element != "" && !strings.HasPrefix(err.Error(), tc.element+": ") {
				t.Errorf("error %q does not start with the element", err)
			}
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	doc := `{"Id":"` + strings.Repeat("x", MaxSize) + `","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`
	if _, err := Parse(doc, testActions); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse of %d bytes: %v", len(doc), err)
	}
}

func TestParseAccepts(t *testing.T) {
	for name, doc := range map[string]string{
		"AWS default policy": `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`,
		"2008 version":       `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}}`,
		"no version":         `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}}`,
		"statement object":   `{"Statement":{"Effect":"Deny","Principal":"*","NotAction":["kms:Describe*","kms:Get*"],"NotResource":"arn:aws:kms:*:111122223333:key/*"}}`,
		"mixed principals":   `{"Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/path/alice","arn:aws:sts::111122223333:assumed-role/payments/s1","arn:aws:iam::444455556666:root","entity_name:carol"],"Vault":["group:ops","group_id:g1","entity:e1"],"Service":"logs.amazonaws.com"},"Action":["kms:Encrypt","KMS:decrypt"],"Resource":["` + keyARN + `"]}}`,
		"IaC style":          `{"Version":"2012-10-17","Statement":[{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/payments"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"payments"},"Bool":{"kms:GrantIsForAWSResource":"false"}}}]}`,
	} {
		if _, err := Parse(doc, testActions); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPrincipalMapping(t *testing.T) {
	other := &Caller{EntityID: "id-carol", EntityName: "carol", GroupNames: []string{"ops"}, GroupIDs: []string{"gid-ops"}}
	tests := []struct {
		principal string
		allowed   []*Caller
	}{
		{`"*"`, []*Caller{alice, bob, other}},
		{`{"AWS":"*"}`, []*Caller{alice, bob, other}},
		{`{"AWS":"arn:aws:iam::111122223333:root"}`, []*Caller{alice, bob, other, entityLess}},
		{`{"AWS":"111122223333"}`, []*Caller{alice, bob, other, entityLess}},
		{`{"Vault":"no_entity"}`, []*Caller{entityLess}},
		{`{"AWS":"arn:aws:iam::444455556666:root"}`, nil},
		{`{"AWS":"444455556666"}`, nil},
		{`{"AWS":"arn:aws-cn:iam::111122223333:root"}`, nil},
		{`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, []*Caller{alice}},
		{`{"AWS":"arn:aws:iam::111122223333:user/division/alice"}`, []*Caller{alice}},
		{`{"AWS":"arn:aws:iam::444455556666:user/alice"}`, nil},
		{`{"AWS":"arn:aws:iam::111122223333:role/payments"}`, []*Caller{alice}},
		{`{"AWS":"arn:aws:iam::111122223333:role/ops"}`, []*Caller{other}},
		{`{"AWS":"arn:aws:sts::111122223333:assumed-role/payments/session-1"}`, []*Caller{alice}},
		{`{"AWS":"arn:aws:sts::444455556666:assumed-role/payments/session-1"}`, nil},
		{`{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:role/ops"]}`, []*Caller{bob, other}},
		{`{"Vault":"entity:id-bob"}`, []*Caller{bob}},
		{`{"Vault":"entity_name:carol"}`, []*Caller{other}},
		{`{"Vault":["group:payments"]}`, []*Caller{alice}},
		{`{"Vault":"group_id:gid-ops"}`, []*Caller{other}},
		{`{"AWS":"entity_name:bob"}`, []*Caller{bob}},
		{`{"Service":"logs.amazonaws.com"}`, nil},
	}
	for _, tc := range tests {
		p := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":`+tc.principal+`,"Action":"kms:Encrypt","Resource":"*"}}`)
		for _, c := range []*Caller{alice, bob, other, entityLess} {
			want := NoDecision
			for _, a := range tc.allowed {
				if a == c {
					want = Allow
				}
			}
			if got := eval(p, c, "Encrypt"); got != want {
				t.Errorf("Principal %s, caller %s: %v, want %v", tc.principal, c, got, want)
			}
		}
	}
}

// A token without an entity is admitted by the account (which delegates to
// Vault's ACL) and by no_entity, never by the wildcard; every Deny applies
// to it.
func TestEntityLessCaller(t *testing.T) {
	for principal, want := range map[string]Decision{`"*"`: NoDecision, `{"AWS":"*"}`: NoDecision,
		`{"AWS":"arn:aws:iam::111122223333:root"}`: Allow, `{"AWS":"111122223333"}`: Allow, `{"Vault":"no_entity"}`: Allow} {
		allow := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":`+principal+`,"Action":"kms:*","Resource":"*"}}`)
		if got := eval(allow, entityLess, "Encrypt"); got != want {
			t.Errorf("Allow %s, entity-less caller: %v, want %v", principal, got, want)
		}
		deny := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":`+principal+`,"Action":"kms:*","Resource":"*"}]}`)
		if got := eval(deny, entityLess, "Encrypt"); got != Deny {
			t.Errorf("Deny %s does not apply to an entity-less caller: %v", principal, got)
		}
	}
	if got := eval(mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"Vault":"no_entity"},"Action":"kms:*","Resource":"*"}}`), alice, "Encrypt"); got != NoDecision {
		t.Errorf("no_entity admits an entity: %v", got)
	}
	// NotPrincipal: an Allow to everyone-but-bob is a wildcard and admits
	// no entity-less token; a Deny to everyone-but-bob catches it.
	notBob := mustParse(t, `{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}}`)
	for c, want := range map[*Caller]Decision{alice: Allow, bob: NoDecision, entityLess: NoDecision} {
		if got := eval(notBob, c, "Encrypt"); got != want {
			t.Errorf("Allow NotPrincipal bob, %s: %v, want %v", c, got, want)
		}
	}
	denyOthers := mustParse(t, `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}}`)
	for c, want := range map[*Caller]Decision{alice: Deny, bob: NoDecision, entityLess: Deny} {
		if got := eval(denyOthers, c, "Encrypt"); got != want {
			t.Errorf("Deny NotPrincipal bob, %s: %v, want %v", c, got, want)
		}
	}
	// A nil caller is entity-less.
	if d, _ := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`).Evaluate(&Request{Action: "Encrypt", Resource: keyARN, Account: own}); d != NoDecision {
		t.Errorf("nil caller: %v", d)
	}
}

func TestActionsAndResources(t *testing.T) {
	tests := []struct {
		stmt   string
		action string
		want   Decision
	}{
		{`"Action":"kms:*","Resource":"*"`, "Encrypt", Allow},
		{`"Action":"*","Resource":"*"`, "PutKeyPolicy", Allow},
		{`"Action":"kms:Encrypt","Resource":"*"`, "Encrypt", Allow},
		{`"Action":"kms:Encrypt","Resource":"*"`, "kms:Encrypt", Allow},
		{`"Action":"KMS:ENCRYPT","Resource":"*"`, "Encrypt", Allow},
		{`"Action":"kms:Encrypt","Resource":"*"`, "Decrypt", NoDecision},
		{`"Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"`, "Encrypt", Allow},
		{`"Action":"kms:Describe*","Resource":"*"`, "DescribeKey", Allow},
		{`"Action":"kms:Get*","Resource":"*"`, "GetKeyPolicy", Allow},
		{`"Action":"kms:Get*","Resource":"*"`, "GenerateDataKey", NoDecision},
		{`"Action":"kms:GenerateDataKey*","Resource":"*"`, "GenerateDataKey", Allow},
		{`"Action":"kms:*crypt","Resource":"*"`, "Decrypt", Allow},
		{`"Action":"kms:?ncrypt","Resource":"*"`, "Encrypt", Allow},
		{`"NotAction":"kms:Encrypt","Resource":"*"`, "Encrypt", NoDecision},
		{`"NotAction":"kms:Encrypt","Resource":"*"`, "Decrypt", Allow},
		{`"NotAction":["kms:Put*","kms:Create*"],"Resource":"*"`, "CreateGrant", NoDecision},
		{`"NotAction":["kms:Put*","kms:Create*"],"Resource":"*"`, "DescribeKey", Allow},
		{`"Action":"kms:*","Resource":"` + keyARN + `"`, "Encrypt", Allow},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "Encrypt", Allow},
		{`"Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/1234abcd-*"`, "Encrypt", Allow},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/other"`, "Encrypt", NoDecision},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:KEY/*"`, "Encrypt", NoDecision},
		{`"Action":"kms:*","Resource":["arn:aws:kms:us-east-1:111122223333:key/other","*"]`, "Encrypt", Allow},
		{`"Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/other"`, "Encrypt", Allow},
		{`"Action":"kms:*","NotResource":"` + keyARN + `"`, "Encrypt", NoDecision},
	}
	for _, tc := range tests {
		p := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":"*",`+tc.stmt+`}}`)
		if got := eval(p, alice, tc.action); got != tc.want {
			t.Errorf("%s, action %s: %v, want %v", tc.stmt, tc.action, got, tc.want)
		}
	}
}

func TestDenyWinsAndNamesTheStatement(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"everyone","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Encrypt","Resource":"*"},
		{"Sid":"no-payments-decrypt","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/payments"},"Action":"kms:Decrypt","Resource":"*",
		 "Condition":{"StringEquals":{"kms:EncryptionContext:class":"secret"}}}]}`)
	secret := keys("kms:EncryptionContext:class", "secret")
	tests := []struct {
		caller *Caller
		action string
		keys   Keys
		want   Decision
		by     string
	}{
		{alice, "Decrypt", secret, Deny, "no-payments-decrypt"},
		{alice, "Decrypt", keys("kms:EncryptionContext:class", "public"), Allow, "everyone"},
		{alice, "Decrypt", nil, Allow, "everyone"},
		{bob, "Decrypt", secret, Allow, "everyone"},
		{bob, "Encrypt", nil, Allow, "everyone"},
	}
	for _, tc := range tests {
		d, by := p.Evaluate(&Request{Caller: tc.caller, Action: tc.action, Resource: keyARN, Account: own, Keys: tc.keys})
		if d != tc.want || by != tc.by {
			t.Errorf("%s %s %v: %v by %q, want %v by %q", tc.caller, tc.action, tc.keys, d, by, tc.want, tc.by)
		}
	}
	unnamed := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`)
	if d, by := unnamed.Evaluate(&Request{Caller: bob, Action: "Encrypt", Resource: keyARN, Account: own}); d != Allow || by != "statement 1" {
		t.Errorf("unnamed statement: %v by %q", d, by)
	}
}

func TestReferences(t *testing.T) {
	p := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}}}`)
	if !p.References("kms:ResourceAliases") || p.References("kms:RequestAlias") {
		t.Error("References")
	}
}

// References counts a key read through a policy variable too: the
// encryption-context case check and costly keys rely on it.
func TestReferencesCountsVariables(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringNotEquals":{"aws:username":"${kms:EncryptionContext:Owner, 'nobody'}"}}},
	 {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/${aws:PrincipalTag/key}"}]}`
	p, err := Parse(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"kms:EncryptionContext:owner": true, "aws:username": true, "aws:PrincipalTag/Key": true,
		"kms:EncryptionContext:dept": false, "kms:ResourceAliases": false,
	} {
		if got := p.References(name); got != want {
			t.Errorf("References(%s) = %v, want %v", name, got, want)
		}
	}
}
