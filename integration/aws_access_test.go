package integration

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/hashicorp/vault/api"
	"github.com/openkms/vault-plugin-kms/awsvault"
	"github.com/stretchr/testify/require"
)

// Who may call what through the AWS protocol: key policies and grants of
// Vault identities, Vault ACLs on the aws paths, and every operation name.

func TestAWSSDKPoliciesAndGrants(t *testing.T) {
	ctx := t.Context()
	users := identities(t)
	alice, bob, carol := users["alice"], users["bob"], users["carol"]
	root := awsClient("kms", dev.token)
	asAlice := awsClient("kms", alice.client.Token())
	asBob := awsClient("kms", bob.client.Token())
	asCarol := awsClient("kms", carol.client.Token())

	policy := awsPolicy(`{"Sid":"owner","Effect":"Allow","Principal":{"Vault":"entity:` + alice.entityID + `"},"Action":"kms:*","Resource":"*"}`)
	_, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy)})
	requireAPIError[*types.MalformedPolicyDocumentException](t, err) // root would lock itself out
	key, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy), BypassPolicyLockoutSafetyCheck: true})
	require.NoError(t, err)
	id := key.KeyMetadata.KeyId

	_, err = asAlice.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	denied := requireErrorCode(t, err, "AccessDeniedException")
	require.Contains(t, denied.ErrorMessage(), "entity:"+bob.entityID)
	var re *smithyhttp.ResponseError
	require.True(t, errors.As(err, &re))
	require.Equal(t, http.StatusBadRequest, re.HTTPStatusCode(), "AWS sends AccessDeniedException as 400")

	got, err := asAlice.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id, PolicyName: aws.String("default")})
	require.NoError(t, err)
	require.JSONEq(t, policy, aws.ToString(got.Policy))
	names, err := asAlice.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: id})
	require.NoError(t, err)
	require.Equal(t, []string{"default"}, names.PolicyNames)

	// A grant lets bob encrypt under a context; carol may retire it.
	ec := map[string]string{"dept": "x"}
	g, err := asAlice.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String("entity:" + bob.entityID),
		RetiringPrincipal: aws.String("entity:" + carol.entityID), Operations: []types.GrantOperation{types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: ec}, Name: aws.String("bob-encrypt")})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), EncryptionContext: ec, GrantTokens: []string{aws.ToString(g.GrantToken)}})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	requireErrorCode(t, err, "AccessDeniedException")
	list, err := asAlice.ListGrants(ctx, &kms.ListGrantsInput{KeyId: id})
	require.NoError(t, err)
	require.Len(t, list.Grants, 1)
	require.Equal(t, aws.ToString(g.GrantId), aws.ToString(list.Grants[0].GrantId))
	require.Equal(t, ec, list.Grants[0].Constraints.EncryptionContextSubset)
	require.Equal(t, "bob-encrypt", aws.ToString(list.Grants[0].Name))
	retirable, err := asCarol.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String("entity:" + carol.entityID)})
	require.NoError(t, err)
	require.Len(t, retirable.Grants, 1)
	_, err = asCarol.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken})
	require.NoError(t, err)
	_, err = asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), EncryptionContext: ec})
	requireErrorCode(t, err, "AccessDeniedException")

	g2, err := asAlice.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String("entity:" + bob.entityID),
		Operations: []types.GrantOperation{types.GrantOperationDescribeKey}})
	require.NoError(t, err)
	_, err = asBob.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	require.NoError(t, err)
	_, err = asAlice.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: id, GrantId: g2.GrantId})
	require.NoError(t, err)
	_, err = asBob.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	requireErrorCode(t, err, "AccessDeniedException")

	// PutKeyPolicy: alice lets bob decrypt too.
	wider := awsPolicy(`{"Sid":"owner","Effect":"Allow","Principal":{"Vault":"entity:`+alice.entityID+`"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"bob","Effect":"Allow","Principal":{"Vault":"entity:`+bob.entityID+`"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`)
	_, err = asAlice.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(wider)})
	require.NoError(t, err)
	enc, err := asBob.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("bob's")})
	require.NoError(t, err)
	dec, err := asBob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, "bob's", string(dec.Plaintext))
}

// TestAWSSDKWithoutPassthrough: a mount that does not pass X-Amz-Target
// through says so; naming the operation in the path works there, and lets
// a Vault ACL allow single operations.
func TestAWSSDKWithoutPassthrough(t *testing.T) {
	ctx := t.Context()
	mount := unique("kms-plain")
	require.NoError(t, dev.client.Sys().Mount(mount, &api.MountInput{Type: pluginName, Config: api.MountConfigInput{PluginVersion: pluginVersion()}}))
	plain := awsClient(mount, dev.token)
	_, err := plain.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)})
	apiErr := requireErrorCode(t, err, "UnknownOperationException")
	require.Contains(t, apiErr.ErrorMessage(), "passthrough_request_headers=X-Amz-Target")

	byPath := awsClient(mount, dev.token, awsvault.OperationInPath)
	key, err := byPath.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)

	// A token whose Vault ACL allows Encrypt only.
	require.NoError(t, dev.client.Sys().PutPolicy("aws-encrypt-only", `path "`+mount+`/aws/Encrypt" { capabilities = ["update"] }`))
	tok, err := dev.client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"aws-encrypt-only"}})
	require.NoError(t, err)
	limited := awsClient(mount, tok.Auth.ClientToken, awsvault.OperationInPath)
	enc, err := limited.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")})
	require.NoError(t, err)
	_, err = limited.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	var re *smithyhttp.ResponseError
	require.True(t, errors.As(err, &re), "got %v", err)
	require.Equal(t, http.StatusForbidden, re.HTTPStatusCode(), "Vault's ACL refuses the path")
}

// TestAWSEveryOperation sends every operation the AWS SDK for Go knows,
// with an empty body: each is either served (and refuses the missing
// members with a 4xx) or answers UnsupportedOperationException; none is
// unknown to the plugin, and none is a 500.
func TestAWSEveryOperation(t *testing.T) {
	var ops []string
	ct := reflect.TypeOf(&kms.Client{})
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		if m.Type.NumIn() == 4 && m.Type.In(2).Kind() == reflect.Pointer && m.Type.In(2).Elem().Name() == m.Name+"Input" {
			ops = append(ops, m.Name)
		}
	}
	require.Greater(t, len(ops), 50, "the SDK's operations")
	unsupported := 0
	for _, op := range ops {
		req, err := http.NewRequest(http.MethodPost, awsvault.Endpoint("http://"+dev.addr, "kms"), strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("X-Vault-Token", dev.token)
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), op)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 500, "%s: %v", op, body)
		require.NotEqual(t, "UnknownOperationException", body["__type"], op)
		if body["__type"] == "UnsupportedOperationException" {
			unsupported++
		}
	}
	require.Equal(t, 2, unsupported, "multi-Region (ReplicateKey, UpdatePrimaryRegion) only")
}
