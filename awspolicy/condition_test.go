package awspolicy

import (
	"strings"
	"testing"
)

var testActions = NewActions("Encrypt", "Decrypt", "DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "CreateGrant", "GenerateDataKey")

var own = Account{Partition: "aws", ID: "111122223333"}

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// conditionAllows evaluates an Allow-everyone statement with one Condition.
func conditionAllows(t *testing.T, cond string, keys Keys) bool {
	t.Helper()
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":` + cond + `}}`
	p, err := Parse(doc, testActions)
	if err != nil {
		t.Fatalf("Parse(%s): %v", cond, err)
	}
	d, _ := p.Evaluate(&Request{Caller: &Caller{EntityID: "e1"}, Action: "Encrypt", Resource: keyARN, Account: own, Keys: keys})
	return d == Allow
}

func keys(kv ...any) Keys {
	k := Keys{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			k.Add(kv[i].(string), v)
		case []string:
			k.Add(kv[i].(string), v...)
		}
	}
	return k
}

type conditionCase struct {
	name string
	cond string
	keys Keys
	want bool
}

func conditionCases() []conditionCase {
	ctx := keys("kms:EncryptionContext:app", "payments")
	ctxKeys := keys("kms:EncryptionContextKeys", []string{"app", "team"})
	num := keys("kms:ScheduleKeyDeletionPendingWindowInDays", "10")
	when := keys("aws:CurrentTime", "2026-06-01T12:00:00Z")
	boolean := keys("aws:SecureTransport", "true")
	arn := keys("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice")
	ip := keys("aws:SourceIp", "10.1.2.3")
	none := Keys{}
	return []conditionCase{
		{"StringEquals hit", `{"StringEquals":{"kms:EncryptionContext:app":"payments"}}`, ctx, true},
		{"StringEquals miss", `{"StringEquals":{"kms:EncryptionContext:app":"billing"}}`, ctx, false},
		{"StringEquals value list is ORed", `{"StringEquals":{"kms:EncryptionContext:app":["billing","payments"]}}`, ctx, true},
		{"StringEquals is case-sensitive in values", `{"StringEquals":{"kms:EncryptionContext:app":"Payments"}}`, ctx, false},
		{"condition key names ignore case", `{"StringEquals":{"KMS:ENCRYPTIONCONTEXT:APP":"payments"}}`, ctx, true},
		{"StringEquals missing key", `{"StringEquals":{"kms:EncryptionContext:app":"payments"}}`, none, false},
		{"StringEquals number value", `{"StringEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}`, num, true},
		{"StringNotEquals hit", `{"StringNotEquals":{"kms:EncryptionContext:app":"billing"}}`, ctx, true},
		{"StringNotEquals miss", `{"StringNotEquals":{"kms:EncryptionContext:app":"payments"}}`, ctx, false},
		{"StringNotEquals list is NORed", `{"StringNotEquals":{"kms:EncryptionContext:app":["billing","payments"]}}`, ctx, false},
		{"StringNotEquals missing key passes", `{"StringNotEquals":{"kms:EncryptionContext:app":"payments"}}`, none, true},
		{"StringEqualsIgnoreCase hit", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:app":"PAYMENTS"}}`, ctx, true},
		{"StringEqualsIgnoreCase miss", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:app":"billing"}}`, ctx, false},
		{"StringNotEqualsIgnoreCase hit", `{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:app":"billing"}}`, ctx, true},
		{"StringNotEqualsIgnoreCase miss", `{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:app":"PayMents"}}`, ctx, false},
		{"StringLike star", `{"StringLike":{"kms:EncryptionContext:app":"pay*"}}`, ctx, true},
		{"StringLike question", `{"StringLike":{"kms:EncryptionContext:app":"paymen?s"}}`, ctx, true},
		{"StringLike miss", `{"StringLike":{"kms:EncryptionContext:app":"bill*"}}`, ctx, false},
		{"StringLike is case-sensitive", `{"StringLike":{"kms:EncryptionContext:app":"PAY*"}}`, ctx, false},
		{"StringNotLike hit", `{"StringNotLike":{"kms:EncryptionContext:app":"bill*"}}`, ctx, true},
		{"StringNotLike miss", `{"StringNotLike":{"kms:EncryptionContext:app":"*ments"}}`, ctx, false},
		{"NumericEquals", `{"NumericEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"10"}}`, num, true},
		{"NumericEquals miss", `{"NumericEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}`, num, false},
		{"NumericNotEquals", `{"NumericNotEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}`, num, true},
		{"NumericNotEquals miss", `{"NumericNotEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["7","10"]}}`, num, false},
		{"NumericLessThan", `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":11}}`, num, true},
		{"NumericLessThan equal", `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}`, num, false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}`, num, true},
		{"NumericLessThanEquals miss", `{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":9.5}}`, num, false},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":7}}`, num, true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}`, num, false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":10}}`, num, true},
		{"NumericGreaterThanEquals miss", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, num, false},
		{"Numeric request value not a number", `{"NumericLessThan":{"kms:EncryptionContext:app":30}}`, ctx, false},
		{"DateEquals", `{"DateEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, when, true},
		{"DateEquals epoch", `{"DateEquals":{"aws:CurrentTime":"1780315200"}}`, when, true},
		{"DateEquals miss", `{"DateEquals":{"aws:CurrentTime":"2026-06-01"}}`, when, false},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-06-01"}}`, when, true},
		{"DateNotEquals miss", `{"DateNotEquals":{"aws:CurrentTime":"2026-06-01T14:00:00+02:00"}}`, when, false},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, when, true},
		{"DateLessThan miss", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, when, false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, when, true},
		{"DateLessThanEquals miss", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-06-01T11:59:59Z"}}`, when, false},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-06-01"}}`, when, true},
		{"DateGreaterThan miss", `{"DateGreaterThan":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, when, false},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, when, true},
		{"DateGreaterThanEquals miss", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-07-01"}}`, when, false},
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, boolean, true},
		{"Bool JSON true", `{"Bool":{"aws:SecureTransport":true}}`, boolean, true},
		{"Bool false", `{"Bool":{"aws:SecureTransport":"false"}}`, boolean, false},
		{"Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, none, false},
		{"ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, arn, true},
		{"ArnEquals miss", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}`, arn, false},
		{"ArnLike", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, arn, true},
		{"ArnLike star", `{"ArnLike":{"aws:PrincipalArn":"*"}}`, arn, true},
		{"ArnNotLike star", `{"ArnNotLike":{"aws:PrincipalArn":"*"}}`, arn, false},
		{"ArnLike part globs", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::1111*:user/al?ce"}}`, arn, true},
		{"ArnLike miss", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, arn, false},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}`, arn, true},
		{"ArnNotEquals miss", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, arn, false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, arn, true},
		{"ArnNotLike miss", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}`, arn, false},
		{"IpAddress", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ip, true},
		{"IpAddress single", `{"IpAddress":{"aws:SourceIp":"10.1.2.3"}}`, ip, true},
		{"IpAddress miss", `{"IpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`, ip, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`, ip, true},
		{"NotIpAddress miss", `{"NotIpAddress":{"aws:SourceIp":["192.168.0.0/16","10.0.0.0/8"]}}`, ip, false},
		{"operators are ANDed", `{"StringEquals":{"kms:EncryptionContext:app":"payments"},"Bool":{"aws:SecureTransport":"true"}}`, ctx, false},
		{"keys are ANDed", `{"StringEquals":{"kms:EncryptionContext:app":"payments","kms:EncryptionContext:team":"x"}}`, ctx, false},
		{"operators are ANDed, both hold", `{"StringEquals":{"kms:EncryptionContext:app":"payments"},"StringLike":{"kms:EncryptionContext:app":"p*"}}`, ctx, true},

		{"IfExists absent passes", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"billing"}}`, none, true},
		{"IfExists present is checked", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"billing"}}`, ctx, false},
		{"IfExists present passes", `{"StringEqualsIfExists":{"kms:EncryptionContext:app":"payments"}}`, ctx, true},
		{"NumericLessThanIfExists absent", `{"NumericLessThanIfExists":{"kms:ScheduleKeyDeletionPendingWindowInDays":7}}`, none, true},
		{"NumericLessThanIfExists present", `{"NumericLessThanIfExists":{"kms:ScheduleKeyDeletionPendingWindowInDays":7}}`, num, false},
		{"BoolIfExists absent", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, none, true},
		{"ArnLikeIfExists absent", `{"ArnLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, none, true},
		{"DateLessThanIfExists present", `{"DateLessThanIfExists":{"aws:CurrentTime":"2027-01-01"}}`, when, true},
		{"StringNotEqualsIfExists absent", `{"StringNotEqualsIfExists":{"kms:EncryptionContext:app":"payments"}}`, none, true},

		{"Null true, key absent", `{"Null":{"kms:EncryptionContext:app":"true"}}`, none, true},
		{"Null true, key present", `{"Null":{"kms:EncryptionContext:app":"true"}}`, ctx, false},
		{"Null false, key present", `{"Null":{"kms:EncryptionContext:app":false}}`, ctx, true},
		{"Null false, key absent", `{"Null":{"kms:EncryptionContext:app":"false"}}`, none, false},

		{"ForAnyValue hit", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["team","x"]}}`, ctxKeys, true},
		{"ForAnyValue miss", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["x","y"]}}`, ctxKeys, false},
		{"ForAnyValue absent fails", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"app"}}`, none, false},
		// AWS: no value of an absent key can match, and IfExists does not
		// make ForAnyValue true (item 6 of issue 21).
		{"ForAnyValue IfExists absent", `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"app"}}`, none, false},
		{"ForAnyValue negated IfExists absent", `{"ForAnyValue:StringNotEqualsIfExists":{"kms:EncryptionContextKeys":"app"}}`, none, false},
		{"ForAnyValue StringLikeIfExists absent", `{"ForAnyValue:StringLikeIfExists":{"kms:EncryptionContextKeys":"*"}}`, none, false},
		{"ForAllValues IfExists absent", `{"ForAllValues:StringEqualsIfExists":{"kms:EncryptionContextKeys":"app"}}`, none, true},
		{"ForAllValues negated IfExists absent", `{"ForAllValues:StringNotLikeIfExists":{"kms:EncryptionContextKeys":"a*"}}`, none, true},
		{"ForAnyValue IfExists present", `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"app"}}`, ctxKeys, true},
		{"negated IfExists absent", `{"StringNotEqualsIfExists":{"kms:EncryptionContext:app":"x"}}`, none, true},
		{"ForAnyValue negated", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"app"}}`, ctxKeys, true},
		{"ForAnyValue negated miss", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["app","team"]}}`, ctxKeys, false},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","team","x"]}}`, ctxKeys, true},
		{"ForAllValues not a subset", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app"]}}`, ctxKeys, false},
		{"ForAllValues absent passes", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app"]}}`, none, true},
		{"ForAllValues negated", `{"ForAllValues:StringNotLike":{"kms:EncryptionContextKeys":"secret*"}}`, ctxKeys, true},
		{"ForAllValues negated miss", `{"ForAllValues:StringNotLike":{"kms:EncryptionContextKeys":"t*"}}`, ctxKeys, false},
		{"ForAllValues like", `{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["a*","t*"]}}`, ctxKeys, true},
		{"qualifier ignores case", `{"forallvalues:StringEquals":{"kms:EncryptionContextKeys":["app","team"]}}`, ctxKeys, true},
		// A set operator on a single-valued key: its value is a set of one.
		{"ForAnyValue on a single-valued key", `{"ForAnyValue:StringEquals":{"kms:EncryptionContext:app":"payments"}}`, ctx, true},
		{"ForAllValues on a single-valued key, absent", `{"ForAllValues:StringEquals":{"kms:EncryptionContext:app":"x"}}`, none, true},
		{"ForAllValues on a single-valued key, other value", `{"ForAllValues:StringEquals":{"kms:EncryptionContext:app":"x"}}`, ctx, false},

		{"policy variable", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, keys("kms:EncryptionContext:owner", "alice", "aws:username", "alice"), true},
		{"policy variable miss", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, keys("kms:EncryptionContext:owner", "alice", "aws:username", "bob"), false},
		{"policy variable absent", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, keys("kms:EncryptionContext:owner", "alice"), false},
		{"policy variable default", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username, 'nobody'}"}}`, keys("kms:EncryptionContext:owner", "nobody"), true},
		{"policy variable in a glob is literal", `{"StringLike":{"kms:EncryptionContext:owner":"team-${aws:username}"}}`, keys("kms:EncryptionContext:owner", "team-alice", "aws:username", "a*"), false},
		{"${*} is a literal star", `{"StringLike":{"kms:EncryptionContext:owner":"a${*}"}}`, keys("kms:EncryptionContext:owner", "a*"), true},
		{"${*} does not glob", `{"StringLike":{"kms:EncryptionContext:owner":"a${*}"}}`, keys("kms:EncryptionContext:owner", "ab"), false},
	}
}

func TestConditionOperators(t *testing.T) {
	for _, tc := range conditionCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := conditionAllows(t, tc.cond, tc.keys); got != tc.want {
				t.Errorf("condition %s with %v: allowed = %v, want %v", tc.cond, tc.keys, got, tc.want)
			}
		})
	}
}

// In 2008-10-17, ${...} is text, not a variable.
func TestPolicyVariablesNeed2012(t *testing.T) {
	doc := `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
		"Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}}`
	p, err := Parse(doc, testActions)
	if err != nil {
		t.Fatal(err)
	}
	for value, want := range map[string]Decision{"alice": NoDecision, "${aws:username}": Allow} {
		k := keys("kms:EncryptionContext:owner", value, "aws:username", "alice")
		if d, _ := p.Evaluate(&Request{Caller: &Caller{EntityID: "e"}, Action: "Encrypt", Resource: keyARN, Account: own, Keys: k}); d != want {
			t.Errorf("context owner=%s: %v, want %v", value, d, want)
		}
	}
}

// Every operator, and the IfExists form of each family, has a case above.
func TestEveryOperatorIsTested(t *testing.T) {
	var all strings.Builder
	for _, c := range conditionCases() {
		all.WriteString(c.cond)
	}
	for _, o := range operators {
		if !strings.Contains(all.String(), `"`+o.name+`"`) && !strings.Contains(all.String(), `:`+o.name+`"`) {
			t.Errorf("operator %s has no test", o.name)
		}
	}
}
