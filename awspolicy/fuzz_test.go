package awspolicy

import "testing"

// FuzzParse: the parser never panics, and a policy it accepts evaluates
// without panic for every kind of caller.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/r/s"],"Vault":"group:ops"},"NotAction":"kms:Get*","NotResource":"arn:aws:kms:*:*:key/*"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"kms:EncryptionContextKeys":["a*","${aws:username}"]},"Null":{"x":"false"},"NumericLessThan":{"n":1.5},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:username}"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":true}}}}`,
		`{"Statement":[]}`, `[]`, `{"Statement":{"Condition":{"StringEquals":{"a":[1,true,"x"]}}}}`,
	} {
		f.Add(seed)
	}
	callers := []*Caller{alice, bob, entityLess, {}}
	k := keys("kms:EncryptionContextKeys", []string{"a", "b"}, "x", "1", "n", "1", "aws:CurrentTime", "2026-01-01T00:00:00Z",
		"aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice", "aws:username", "alice", "aws:SourceIp", "10.1.1.1", "aws:SecureTransport", "true")
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc, testActions)
		if err != nil {
			return
		}
		for _, c := range callers {
			for _, keys := range []Keys{nil, k} {
				d, by := p.Evaluate(&Request{Caller: c, Action: "Encrypt", Resource: keyARN, Account: own, Keys: keys})
				if d != NoDecision && by == "" {
					t.Fatalf("decision %v names no statement", d)
				}
			}
		}
	})
}
