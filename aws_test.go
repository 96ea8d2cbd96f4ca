package kms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// awsCall sends one AWS JSON request the way Vault delivers it to the
// plugin: the body decoded with numbers kept as json.Number, the target in
// the passed-through headers.
func (tb *testBackend) awsCall(entity, path, target string, body map[string]any) (int, map[string]any) {
	tb.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(tb.t, err)
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(tb.t, dec.Decode(&data))
	req := &logical.Request{Operation: logical.UpdateOperation, Path: path, Data: data, Storage: tb.storage, EntityID: entity}
	if target != "" {
		req.Headers = map[string][]string{"X-Amz-Target": {target}}
	}
	resp, err := tb.HandleRequest(context.Background(), req)
	require.NoError(tb.t, err)
	require.Equal(tb.t, awsapi.ContentType, resp.Data[logical.HTTPContentType])
	var out map[string]any
	require.NoError(tb.t, json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &out))
	return resp.Data[logical.HTTPStatusCode].(int), out
}

// aws runs an operation that must succeed.
func (tb *testBackend) aws(entity, op string, body map[string]any) map[string]any {
	tb.t.Helper()
	status, out := tb.awsCall(entity, "aws", "TrentService."+op, body)
	require.Equal(tb.t, http.StatusOK, status, "%s: %v", op, out)
	return out
}

// awsFails runs an operation that must fail with exception exc.
func (tb *testBackend) awsFails(exc, entity, op string, body map[string]any) string {
	tb.t.Helper()
	status, out := tb.awsCall(entity, "aws", "TrentService."+op, body)
	require.Equal(tb.t, http.StatusBadRequest, status, "%s: %v", op, out)
	require.Equal(tb.t, exc, out["__type"], "%s: %v", op, out)
	return out["message"].(string)
}

func TestAWSOperationsRoute(t *testing.T) {
	tb := newTestBackend(t)
	require.Len(t, tb.awsRoutes, len(awsapi.Operations))
	for name, op := range awsapi.Operations {
		p := tb.awsRoutes[name]
		require.NotNil(t, p, "%s: route %s", name, op.Route)
		_, ok := p.Operations[op.Op]
		require.True(t, ok, "%s: %s has no %s", name, op.Route, op.Op)
		require.False(t, awsapi.Unsupported[name], name)
		for _, m := range op.Members {
			require.Contains(t, awsapi.Members, m, "%s takes an unknown member", name)
		}
		// The route must be the path a user would call, not a catch-all.
		require.NotEqual(t, "aws", p.Pattern)
	}
}

func TestAWSProtocolErrors(t *testing.T) {
	tb := newTestBackend(t)
	status, out := tb.awsCall("", "aws", "", nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, kmserr.UnknownOperation, out["__type"])
	require.Contains(t, out["message"], "passthrough_request_headers=X-Amz-Target")

	_, out = tb.awsCall("", "aws", "DynamoDB_20120810.GetItem", nil)
	require.Equal(t, kmserr.UnknownOperation, out["__type"])
	_, out = tb.awsCall("", "aws", "TrentService.Frobnicate", nil)
	require.Equal(t, kmserr.UnknownOperation, out["__type"])
	tb.awsFails(kmserr.UnsupportedOperation, "", "ReplicateKey", nil)
	tb.awsFails(kmserr.UnsupportedOperation, "", "GenerateRandom", map[string]any{"CustomKeyStoreId": "cks-1"})
	tb.awsFails(kmserr.Validation, "", "CreateKey", map[string]any{"KeySpec": "RSA_1024"})
	tb.awsFails(kmserr.Validation, "", "GenerateRandom", map[string]any{"NumberOfBytes": "many"})

	// The operation in the path works without the header; with both, they must agree.
	status, out = tb.awsCall("", "aws/GenerateRandom", "", map[string]any{"NumberOfBytes": 16})
	require.Equal(t, http.StatusOK, status)
	require.Len(t, unb64(t, out["Plaintext"]), 16)
	status, out = tb.awsCall("", "aws/GenerateRandom", "TrentService.Decrypt", nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, kmserr.Validation, out["__type"])
}

func TestAWSKeyLifecycle(t *testing.T) {
	tb := newTestBackend(t)
	md := tb.aws("", "CreateKey", map[string]any{"Description": "orders", "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
		"Tags": []any{map[string]any{"TagKey": "team", "TagValue": "payments"}}})["KeyMetadata"].(map[string]any)
	id := md["KeyId"].(string)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+id, md["Arn"])
	require.Equal(t, "000000000000", md["AWSAccountId"])
	require.Equal(t, float64(tb.clock.Unix()), md["CreationDate"], "timestamps are epoch seconds")
	require.Equal(t, []any{"ECDSA_SHA_256"}, md["SigningAlgorithms"])
	require.Equal(t, "Enabled", md["KeyState"])
	require.Equal(t, true, md["Enabled"])

	tags := tb.aws("", "ListResourceTags", map[string]any{"KeyId": id})
	require.Equal(t, []any{map[string]any{"TagKey": "team", "TagValue": "payments"}}, tags["Tags"])
	require.Empty(t, tb.aws("", "UpdateKeyDescription", map[string]any{"KeyId": md["Arn"], "Description": "new"}))
	require.Equal(t, "new", tb.aws("", "DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)["Description"])

	tb.aws("", "CreateAlias", map[string]any{"AliasName": "alias/orders", "TargetKeyId": id})
	tb.awsFails(kmserr.AlreadyExists, "", "CreateAlias", map[string]any{"AliasName": "alias/orders", "TargetKeyId": id})
	aliases := tb.aws("", "ListAliases", map[string]any{"KeyId": id})["Aliases"].([]any)
	require.Len(t, aliases, 1)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:alias/orders", aliases[0].(map[string]any)["AliasArn"])
	// The alias ARN and name both resolve.
	for _, ref := range []string{"alias/orders", "arn:aws:kms:us-east-1:000000000000:alias/orders"} {
		require.Equal(t, id, tb.aws("", "DescribeKey", map[string]any{"KeyId": ref})["KeyMetadata"].(map[string]any)["KeyId"])
	}

	tb.aws("", "DisableKey", map[string]any{"KeyId": id})
	tb.awsFails("DisabledException", "", "Sign", map[string]any{"KeyId": id, "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_256"})
	tb.aws("", "EnableKey", map[string]any{"KeyId": id})
	sched := tb.aws("", "ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7})
	require.Equal(t, md["Arn"], sched["KeyId"])
	require.Equal(t, "PendingDeletion", sched["KeyState"])
	require.Equal(t, float64(tb.clock.Unix()+7*86400), sched["DeletionDate"])
	require.Equal(t, float64(7), sched["PendingWindowInDays"])
	tb.awsFails(kmserr.InvalidState, "", "Sign", map[string]any{"KeyId": id, "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_256"})
	require.Equal(t, md["Arn"], tb.aws("", "CancelKeyDeletion", map[string]any{"KeyId": id})["KeyId"])
	tb.awsFails(kmserr.NotFound, "", "DescribeKey", map[string]any{"KeyId": "alias/nope"})

	// Paging: Limit and Marker.
	for range 2 {
		tb.aws("", "CreateKey", nil)
	}
	page := tb.aws("", "ListKeys", map[string]any{"Limit": 2})
	require.Len(t, page["Keys"], 2)
	require.Equal(t, true, page["Truncated"])
	rest := tb.aws("", "ListKeys", map[string]any{"Marker": page["NextMarker"]})
	require.Len(t, rest["Keys"], 1)
	require.Equal(t, false, rest["Truncated"])
	require.NotContains(t, rest, "NextMarker")
}

func TestAWSCryptoSharesVaultPaths(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	ec := map[string]any{"tenant": "a"}
	enc := tb.aws("", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("secret"), "EncryptionContext": ec})
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+id, enc["KeyId"])
	require.Equal(t, "SYMMETRIC_DEFAULT", enc["EncryptionAlgorithm"])

	// AWS ciphertext opens through the Vault-style path, and the reverse.
	pt := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": enc["CiphertextBlob"], "encryption_context": ec})
	require.Equal(t, b64s("secret"), pt["plaintext"])
	blob := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("back"), "encryption_context": ec})["ciphertext_blob"]
	dec := tb.aws("", "Decrypt", map[string]any{"CiphertextBlob": blob, "EncryptionContext": ec})
	require.Equal(t, b64s("back"), dec["Plaintext"])
	require.Equal(t, enc["KeyId"], dec["KeyId"])
	tb.awsFails(kmserr.InvalidCiphertext, "", "Decrypt", map[string]any{"CiphertextBlob": blob})

	other := tb.createKey(nil)
	re := tb.aws("", "ReEncrypt", map[string]any{"CiphertextBlob": blob, "SourceEncryptionContext": ec, "DestinationKeyId": other})
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+other, re["KeyId"])
	require.Equal(t, enc["KeyId"], re["SourceKeyId"])
	tb.awsFails(kmserr.IncorrectKey, "", "Decrypt", map[string]any{"CiphertextBlob": re["CiphertextBlob"], "KeyId": id})

	dk := tb.aws("", "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256"})
	require.Len(t, unb64(t, dk["Plaintext"]), 32)
	require.Equal(t, dk["Plaintext"], tb.aws("", "Decrypt", map[string]any{"CiphertextBlob": dk["CiphertextBlob"]})["Plaintext"])
	require.NotContains(t, tb.aws("", "GenerateDataKeyWithoutPlaintext", map[string]any{"KeyId": id, "NumberOfBytes": 16}), "Plaintext")

	status, out := tb.awsCall("", "aws", "TrentService.Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true})
	require.Equal(t, http.StatusPreconditionFailed, status)
	require.Equal(t, kmserr.DryRunOperation, out["__type"])
	// A member the operation does not take is refused, never ignored: no
	// batch through AWS, and a misspelt member is not silently dropped.
	msg := tb.awsFails(kmserr.Validation, "", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"),
		"batch_input": []any{map[string]any{"plaintext": b64s("y")}}})
	require.Contains(t, msg, "batch_input is not a member of Encrypt")
	tb.awsFails(kmserr.Validation, "", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "EncryptionContex": ec})
}

func TestAWSRefusedMembers(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	// A grant constrained to an AWS service source would be stored without
	// that constraint, broader than asked: refused, saying why.
	msg := tb.awsFails(kmserr.Validation, "", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob", "Operations": []any{"Encrypt"},
		"Constraints": map[string]any{"SourceArn": "arn:aws:s3:::bucket"}})
	require.Contains(t, msg, "Constraints.SourceArn")
	require.Contains(t, msg, "no AWS services")
	for _, m := range []string{"GranteeServicePrincipal", "RetiringServicePrincipal"} {
		msg := tb.awsFails(kmserr.Validation, "", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob",
			"Operations": []any{"Encrypt"}, m: "s3.amazonaws.com"})
		require.Contains(t, msg, m)
	}
	tb.awsFails(kmserr.Validation, "", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob", "Operations": []any{"Encrypt"},
		"Constraints": map[string]any{"EncryptionContextSuperset": map[string]any{"a": "b"}}})
	require.Empty(t, tb.aws("", "ListGrants", map[string]any{"KeyId": id})["Grants"], "no refused grant was stored")

	// MultiRegion false and CustomerMasterKeySpec ask for what the plugin does.
	md := tb.aws("", "CreateKey", map[string]any{"MultiRegion": false, "CustomerMasterKeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})["KeyMetadata"].(map[string]any)
	require.Equal(t, "HMAC_256", md["KeySpec"])
	require.Equal(t, false, md["MultiRegion"])
	tb.awsFails(kmserr.UnsupportedOperation, "", "CreateKey", map[string]any{"MultiRegion": true})
}

func TestAWSGrantConstraints(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	id := tb.createKey(map[string]any{"policy": policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("*", "no_entity"), "Action": actions("CreateGrant", "ListGrants")}),
		"bypass_policy_lockout_safety_check": true})
	tb.aws("", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob", "Operations": []any{"Encrypt"},
		"Constraints": map[string]any{"EncryptionContextEquals": map[string]any{"dept": "x"}}})
	tb.aws("", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:carol", "Operations": []any{"Encrypt"}})
	tb.aws("bob", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "EncryptionContext": map[string]any{"dept": "x"}})
	tb.awsFails(kmserr.AccessDenied, "bob", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"),
		"EncryptionContext": map[string]any{"dept": "x", "more": "y"}})
	// ListGrants filters by GranteePrincipal.
	grants := tb.aws("", "ListGrants", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob"})["Grants"].([]any)
	require.Len(t, grants, 1)
	require.Equal(t, map[string]any{"EncryptionContextEquals": map[string]any{"dept": "x"}}, grants[0].(map[string]any)["Constraints"])
}

func TestAWSListResourceTagsPages(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"tags": map[string]any{"a": "1", "b": "2", "c": "3"}})
	page := tb.aws("", "ListResourceTags", map[string]any{"KeyId": id, "Limit": 2})
	require.Equal(t, []any{map[string]any{"TagKey": "a", "TagValue": "1"}, map[string]any{"TagKey": "b", "TagValue": "2"}}, page["Tags"])
	require.Equal(t, true, page["Truncated"])
	rest := tb.aws("", "ListResourceTags", map[string]any{"KeyId": id, "Marker": page["NextMarker"]})
	require.Equal(t, []any{map[string]any{"TagKey": "c", "TagValue": "3"}}, rest["Tags"])
	require.Equal(t, false, rest["Truncated"])
	require.NotContains(t, rest, "NextMarker")
	tb.awsFails(kmserr.Validation, "", "ListResourceTags", map[string]any{"KeyId": id, "Limit": 51})
}

func TestAWSAuthorizationIsTheCallers(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")},
		map[string]any{"Sid": "users", "Effect": "Allow", "Principal": principals("group:payments"), "Action": actions("Encrypt")},
	)
	id := tb.aws("admin", "CreateKey", map[string]any{"Policy": doc})["KeyMetadata"].(map[string]any)["KeyId"]
	tb.aws("alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x")})
	msg := tb.awsFails(kmserr.AccessDenied, "bob", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x")})
	require.Contains(t, msg, "entity:bob")

	// Grants through the AWS protocol.
	g := tb.aws("admin", "CreateGrant", map[string]any{"KeyId": id, "GranteePrincipal": "entity:bob", "Operations": []any{"Encrypt"},
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]any{"dept": "x"}}, "Name": "bob"})
	tb.aws("bob", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "EncryptionContext": map[string]any{"dept": "x"}})
	grants := tb.aws("admin", "ListGrants", map[string]any{"KeyId": id})["Grants"].([]any)
	require.Len(t, grants, 1)
	entry := grants[0].(map[string]any)
	require.Equal(t, g["GrantId"], entry["GrantId"])
	require.Equal(t, map[string]any{"EncryptionContextSubset": map[string]any{"dept": "x"}}, entry["Constraints"])
	require.Equal(t, []any{"Encrypt"}, entry["Operations"])
	tb.aws("admin", "RevokeGrant", map[string]any{"KeyId": id, "GrantId": g["GrantId"]})
	tb.awsFails(kmserr.AccessDenied, "bob", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "EncryptionContext": map[string]any{"dept": "x"}})

	pol := tb.aws("admin", "GetKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "default"})
	require.Equal(t, "default", pol["PolicyName"])
	require.True(t, strings.Contains(pol["Policy"].(string), "payments"))
	require.Equal(t, []any{"default"}, tb.aws("admin", "ListKeyPolicies", map[string]any{"KeyId": id})["PolicyNames"])
}

func TestAWSImportTokenIsABlob(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.aws("", "CreateKey", map[string]any{"Origin": "EXTERNAL"})["KeyMetadata"].(map[string]any)["KeyId"].(string)
	p := tb.aws("", "GetParametersForImport", map[string]any{"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})
	token, err := base64.StdEncoding.DecodeString(p["ImportToken"].(string))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(token), "aTEu"), "the blob carries the plugin's token")
	require.Equal(t, float64(tb.clock.Unix()+24*3600), p["ParametersValidTo"])
	// A token that does not decode as a blob is refused as input, not a 500.
	tb.awsFails(kmserr.Validation, "", "ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": "%%%", "EncryptedKeyMaterial": b64s("x")})
	tb.awsFails(kmserr.InvalidImportToken, "", "ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": b64s("i1.forged"),
		"EncryptedKeyMaterial": b64s("x"), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}

// KmsRequestId in key last usage is Vault's request id, the request.id of
// the audit log entry of the request that used the key.
func TestAWSKeyLastUsageRequestID(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	require.NotContains(t, tb.aws("", "GetKeyLastUsage", map[string]any{"KeyId": id})["KeyLastUsage"], "KmsRequestId")
	req := &logical.Request{ID: "5f3a0c2e-audit-request-id", Operation: logical.UpdateOperation, Path: "aws", Storage: tb.storage,
		Data: map[string]any{"KeyId": id, "Plaintext": b64s("x")}, Headers: map[string][]string{"X-Amz-Target": {"TrentService.Encrypt"}}}
	resp, err := tb.HandleRequest(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Data[logical.HTTPStatusCode])
	usage := tb.aws("", "GetKeyLastUsage", map[string]any{"KeyId": id})["KeyLastUsage"].(map[string]any)
	require.Equal(t, "Encrypt", usage["Operation"])
	require.Equal(t, "5f3a0c2e-audit-request-id", usage["KmsRequestId"])
	require.Equal(t, "5f3a0c2e-audit-request-id", tb.ok(logical.ReadOperation, "keys/"+id+"/last-usage", nil)["kms_request_id"])
}

// The AWS endpoint's cost over the Vault-style path it runs: member
// renaming, JSON encoding of the response, and nothing else.
func BenchmarkEncrypt(b *testing.B) {
	tb := newTestBackend(b)
	tb.Logger().SetLevel(hclog.Error) // authorization decisions log at debug
	id := tb.createKey(nil)
	pt := b64s("a 32-byte message for benchmarks")
	b.Run("vault-path", func(b *testing.B) {
		for b.Loop() {
			tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": pt})
		}
	})
	b.Run("aws-protocol", func(b *testing.B) {
		body := map[string]any{"KeyId": id, "Plaintext": pt}
		for b.Loop() {
			req := &logical.Request{Operation: logical.UpdateOperation, Path: "aws", Data: body, Storage: tb.storage,
				Headers: map[string][]string{"X-Amz-Target": {"TrentService.Encrypt"}}}
			if _, err := tb.HandleRequest(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestAWSAliasNamesNeedThePrefix(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	for _, op := range []string{"CreateAlias", "UpdateAlias", "DeleteAlias"} {
		body := map[string]any{"AliasName": "orders", "TargetKeyId": id}
		if op == "DeleteAlias" {
			delete(body, "TargetKeyId")
		}
		msg := tb.awsFails(kmserr.Validation, "", op, body)
		require.Equal(t, `Alias must start with the prefix "alias/"`, msg)
	}
	// The Vault-style path takes the full name too (TestAliasNamesNeedThePrefix).
	tb.ok(logical.CreateOperation, "aliases/alias/orders", map[string]any{"target_key_id": id})
	require.Equal(t, id, tb.aws("", "DescribeKey", map[string]any{"KeyId": "alias/orders"})["KeyMetadata"].(map[string]any)["KeyId"])
}

// An algorithm AWS defines but the key's spec does not offer is an
// InvalidKeyUsageException, as each operation's API reference says; a name
// AWS does not define is a ValidationException.
func TestAWSAlgorithmTheKeyDoesNotOffer(t *testing.T) {
	tb := newTestBackend(t)
	sym := tb.createKey(nil)
	ec := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	hmac := tb.createKey(map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"})
	agree := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	blob := tb.aws("", "Encrypt", map[string]any{"KeyId": sym, "Plaintext": b64s("x")})["CiphertextBlob"]
	msg, sig := b64s("m"), tb.aws("", "Sign", map[string]any{"KeyId": ec, "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_256"})["Signature"]
	mac := tb.aws("", "GenerateMac", map[string]any{"KeyId": hmac, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"})["Mac"]
	for _, c := range []struct {
		op   string
		body map[string]any
		exc  string
	}{
		{"Encrypt", map[string]any{"KeyId": sym, "Plaintext": msg, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}, kmserr.InvalidKeyUsage},
		{"Encrypt", map[string]any{"KeyId": sym, "Plaintext": msg, "EncryptionAlgorithm": "SM2PKE"}, kmserr.InvalidKeyUsage},
		{"Encrypt", map[string]any{"KeyId": sym, "Plaintext": msg, "EncryptionAlgorithm": "AES_GCM"}, kmserr.Validation},
		{"Decrypt", map[string]any{"KeyId": sym, "CiphertextBlob": blob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}, kmserr.InvalidKeyUsage},
		{"ReEncrypt", map[string]any{"CiphertextBlob": blob, "DestinationKeyId": sym, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}, kmserr.InvalidKeyUsage},
		{"ReEncrypt", map[string]any{"CiphertextBlob": blob, "SourceKeyId": sym, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": sym}, kmserr.InvalidKeyUsage},
		{"Sign", map[string]any{"KeyId": ec, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_384"}, kmserr.InvalidKeyUsage},
		{"Sign", map[string]any{"KeyId": ec, "Message": msg, "SigningAlgorithm": "SM2DSA"}, kmserr.InvalidKeyUsage},
		{"Sign", map[string]any{"KeyId": ec, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_1"}, kmserr.Validation},
		{"Verify", map[string]any{"KeyId": ec, "Message": msg, "Signature": sig, "SigningAlgorithm": "RSASSA_PSS_SHA_256"}, kmserr.InvalidKeyUsage},
		{"GenerateMac", map[string]any{"KeyId": hmac, "Message": msg, "MacAlgorithm": "HMAC_SHA_512"}, kmserr.InvalidKeyUsage},
		{"GenerateMac", map[string]any{"KeyId": hmac, "Message": msg, "MacAlgorithm": "HMAC_MD5"}, kmserr.Validation},
		{"VerifyMac", map[string]any{"KeyId": hmac, "Message": msg, "Mac": mac, "MacAlgorithm": "HMAC_SHA_224"}, kmserr.InvalidKeyUsage},
		{"DeriveSharedSecret", map[string]any{"KeyId": agree, "KeyAgreementAlgorithm": "ECDHE", "PublicKey": b64s("x")}, kmserr.Validation},
		{"GenerateDataKeyPair", map[string]any{"KeyId": sym, "KeyPairSpec": "HMAC_256"}, kmserr.Validation},
		{"GenerateDataKeyPair", map[string]any{"KeyId": ec, "KeyPairSpec": "ECC_NIST_P256"}, kmserr.InvalidKeyUsage},
	} {
		tb.awsFails(c.exc, "", c.op, c.body)
	}
}

func TestAWSGetKeyRotationStatus(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	arn := "arn:aws:kms:us-east-1:000000000000:key/" + id
	off := tb.aws("", "GetKeyRotationStatus", map[string]any{"KeyId": id})
	require.Equal(t, map[string]any{"KeyId": arn, "KeyRotationEnabled": false}, off)
	tb.aws("", "EnableKeyRotation", map[string]any{"KeyId": id, "RotationPeriodInDays": 100})
	on := tb.aws("", "GetKeyRotationStatus", map[string]any{"KeyId": id})
	require.Equal(t, arn, on["KeyId"])
	require.Equal(t, true, on["KeyRotationEnabled"])
	require.Equal(t, float64(100), on["RotationPeriodInDays"])
	require.Equal(t, float64(tb.clock.Unix()+100*86400), on["NextRotationDate"])
}

// Last usage is the last successful use: a request the key admitted but
// that then failed (a wrong algorithm, a signature that does not verify)
// does not replace it.
func TestAWSKeyLastUsageCountsOnlySuccess(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256"})
	send := func(reqID, op string, body map[string]any) int {
		req := &logical.Request{ID: reqID, Operation: logical.UpdateOperation, Path: "aws", Storage: tb.storage, Data: body,
			Headers: map[string][]string{"X-Amz-Target": {"TrentService." + op}}}
		resp, err := tb.HandleRequest(context.Background(), req)
		require.NoError(t, err)
		return resp.Data[logical.HTTPStatusCode].(int)
	}
	require.Equal(t, http.StatusOK, send("good", "Sign", map[string]any{"KeyId": id, "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_256"}))
	tb.advance(time.Hour)
	require.Equal(t, http.StatusBadRequest, send("bad-alg", "Sign", map[string]any{"KeyId": id, "Message": b64s("m"), "SigningAlgorithm": "ECDSA_SHA_384"}))
	require.Equal(t, http.StatusBadRequest, send("bad-sig", "Verify", map[string]any{"KeyId": id, "Message": b64s("m"),
		"Signature": b64s("forged"), "SigningAlgorithm": "ECDSA_SHA_256"}))
	usage := tb.aws("", "GetKeyLastUsage", map[string]any{"KeyId": id})["KeyLastUsage"].(map[string]any)
	require.Equal(t, "good", usage["KmsRequestId"])
	require.Equal(t, "Sign", usage["Operation"])
	require.Equal(t, float64(tb.clock.Add(-time.Hour).Unix()), usage["Timestamp"])
}
