package integration

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"
)

// The policy grammar's corners through a real Vault and the AWS SDK: a
// member given twice and a bare operator on a multivalued key are refused
// as AWS's tools expect (MalformedPolicyDocumentException naming the
// fault), on CreateKey and PutKeyPolicy; an AWS action the plugin lacks is
// accepted next to the ones it has.
func TestAWSSDKPolicyGrammarCorners(t *testing.T) {
	ctx := t.Context()
	root := awsClient("kms", dev.token)
	admin := `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}`
	key, err := root.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	id := key.KeyMetadata.KeyId
	for doc, want := range map[string][]string{
		awsPolicy(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Effect":"Allow"}`): {"Statement[1].Effect", "twice"},
		awsPolicy(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContextKeys":"secret"}}}`): {
			"kms:EncryptionContextKeys", "ForAnyValue:StringEquals", "ForAllValues:StringEquals"},
		awsPolicy(admin, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:*:*:000000000000:key/*"}`): {"Statement[1].Resource"},
	} {
		_, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(doc)})
		m := requireAPIError[*types.MalformedPolicyDocumentException](t, err)
		_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(doc)})
		m2 := requireAPIError[*types.MalformedPolicyDocumentException](t, err)
		for _, w := range want {
			require.Contains(t, m.ErrorMessage(), w)
			require.Contains(t, m2.ErrorMessage(), w)
		}
	}
	withAWSActions := awsPolicy(admin, `{"Sid":"replication","Effect":"Deny","Principal":"*","Action":["kms:ReplicateKey","kms:UpdatePrimaryRegion","kms:SynchronizeMultiRegionKey"],"Resource":"*"}`)
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(withAWSActions)})
	require.NoError(t, err)
	_, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	require.NoError(t, err)
}
