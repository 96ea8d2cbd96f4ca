package awspolicy

import "testing"

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
