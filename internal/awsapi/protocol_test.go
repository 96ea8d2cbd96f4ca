package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// The protocol alone, without a backend: the root's tests (aws_test.go,
// the member walk in aws_members_test.go) drive it through real handlers.

func requireExc(t *testing.T, err error, exc string) *kmserr.Error {
	t.Helper()
	var ke *kmserr.Error
	require.True(t, errors.As(err, &ke), "want %s, got %v", exc, err)
	require.Equal(t, exc, ke.Type, "%v", err)
	return ke
}

func TestOperationName(t *testing.T) {
	req := func(path, target string) *logical.Request {
		r := &logical.Request{Path: path}
		if target != "" {
			r.Headers = map[string][]string{"x-amz-target": {target}} // any case, as HTTP headers
		}
		return r
	}
	for _, c := range []struct{ path, target, want string }{
		{"aws", "TrentService.Encrypt", "Encrypt"},
		{"aws/Encrypt", "", "Encrypt"},
		{"aws/Encrypt", "TrentService.Encrypt", "Encrypt"},
	} {
		name, err := OperationName(req(c.path, c.target))
		require.NoError(t, err, "%+v", c)
		require.Equal(t, c.want, name)
	}
	_, err := OperationName(req("aws", ""))
	ke := requireExc(t, err, kmserr.UnknownOperation)
	require.Contains(t, ke.Msg, "passthrough_request_headers=X-Amz-Target", "the refusal says how to pass the header")
	_, err = OperationName(req("aws", "DynamoDB_20120810.GetItem"))
	requireExc(t, err, kmserr.UnknownOperation)
	_, err = OperationName(req("aws", "TrentService."))
	requireExc(t, err, kmserr.UnknownOperation)
	_, err = OperationName(req("aws/Decrypt", "TrentService.Encrypt"))
	requireExc(t, err, kmserr.Validation)
}

func TestDecode(t *testing.T) {
	call, err := Decode(&logical.Request{Path: "aws/Encrypt", Data: map[string]any{
		"KeyId": "alias/a", "Plaintext": "aGk=", "EncryptionContext": map[string]any{"a": "b"}, "GrantTokens": nil}})
	require.NoError(t, err)
	require.Equal(t, "Encrypt", call.Name)
	require.Equal(t, "encrypt/:key", call.Op.Route)
	require.Equal(t, logical.Operation(logical.UpdateOperation), call.Op.Op)
	require.Equal(t, map[string]any{"key_id": "alias/a", "plaintext": "aGk=", "encryption_context": map[string]any{"a": "b"}}, call.Data,
		"members become the path's fields; a null member is absent")
	require.Equal(t, "Plaintext", call.MemberOf("plaintext"), "errors name the member the client sent")
	require.Equal(t, "no_such_field", call.MemberOf("no_such_field"))

	_, err = Decode(&logical.Request{Path: "aws/ReplicateKey"})
	requireExc(t, err, kmserr.UnsupportedOperation)
	_, err = Decode(&logical.Request{Path: "aws/NoSuchOperation"})
	requireExc(t, err, kmserr.UnknownOperation)
	_, err = Decode(&logical.Request{Path: "aws/Encrypt", Data: map[string]any{"KeyId": "k", "Plaintxt": "aGk="}})
	ke := requireExc(t, err, kmserr.Validation)
	require.Contains(t, ke.Msg, "Plaintxt is not a member of Encrypt's request", "a misspelt member is refused, not dropped")
	_, err = Decode(&logical.Request{Path: "aws/Decrypt", Data: map[string]any{"CiphertextBlob": "eA==", "Recipient": map[string]any{}}})
	ke = requireExc(t, err, kmserr.UnsupportedOperation)
	require.True(t, strings.HasPrefix(ke.Msg, "Recipient: "), "a refused member is named: %s", ke.Msg)
}

// CustomKeyStoreId names the store in the store operations, and is
// refused where it would put a key or random bytes in a store.
func TestCustomKeyStoreIdPerOperation(t *testing.T) {
	call, err := Decode(&logical.Request{Path: "aws/ConnectCustomKeyStore", Data: map[string]any{"CustomKeyStoreId": "cks-1"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"custom_key_store_id": "cks-1"}, call.Data)
	call, err = Decode(&logical.Request{Path: "aws/CreateKey", Data: map[string]any{"CustomKeyStoreId": "cks-1"}})
	require.NoError(t, err)
	require.Equal(t, "cks-1", call.Data["custom_key_store_id"])
	_, err = Decode(&logical.Request{Path: "aws/GenerateRandom", Data: map[string]any{"CustomKeyStoreId": "cks-1"}})
	requireExc(t, err, kmserr.UnsupportedOperation)
	_, err = Decode(&logical.Request{Path: "aws/CreateCustomKeyStore", Data: map[string]any{"XksProxyUriPath": "/x"}})
	requireExc(t, err, kmserr.UnsupportedOperation)
}

func TestEncode(t *testing.T) {
	env := Env{KeyARN: func(id string) string { return "arn:aws:kms:r:111122223333:key/" + id }, Account: "111122223333"}
	call, err := Decode(&logical.Request{Path: "aws/Encrypt", Data: map[string]any{"KeyId": "k"}})
	require.NoError(t, err)
	out, err := call.Encode(map[string]any{"key_id": "k1", "ciphertext_blob": "Yw==", "encryption_algorithm": "SYMMETRIC_DEFAULT"}, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"KeyId": "arn:aws:kms:r:111122223333:key/k1", "CiphertextBlob": "Yw==",
		"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, out)

	call, err = Decode(&logical.Request{Path: "aws/DescribeKey", Data: map[string]any{"KeyId": "k"}})
	require.NoError(t, err)
	out, err = call.Encode(map[string]any{"key_id": "k1", "creation_date": "2026-01-02T03:04:05Z"}, env)
	require.NoError(t, err)
	meta := out["KeyMetadata"].(map[string]any)
	require.Equal(t, "111122223333", meta["AWSAccountId"])
	require.Equal(t, int64(1767323045), meta["CreationDate"], "AWS timestamps are epoch seconds")

	call, err = Decode(&logical.Request{Path: "aws/ListResourceTags", Data: map[string]any{"KeyId": "k", "Limit": json.Number("1")}})
	require.NoError(t, err)
	out, err = call.Encode(map[string]any{"tags": map[string]any{"b": "2", "a": "1"}}, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"Tags": []any{map[string]any{"TagKey": "a", "TagValue": "1"}}, "Truncated": true, "NextMarker": "a"}, out)
	call, err = Decode(&logical.Request{Path: "aws/ListResourceTags", Data: map[string]any{"KeyId": "k", "Limit": json.Number("51")}})
	require.NoError(t, err)
	_, err = call.Encode(map[string]any{}, env)
	requireExc(t, err, kmserr.Validation)

	call, err = Decode(&logical.Request{Path: "aws/EnableKey", Data: map[string]any{"KeyId": "k"}})
	require.NoError(t, err)
	out, err = call.Encode(nil, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{}, out, "an operation without output answers {}")
}

func body(t *testing.T, resp *logical.Response) (int, map[string]any) {
	t.Helper()
	require.Equal(t, ContentType, resp.Data[logical.HTTPContentType])
	var out map[string]any
	require.NoError(t, json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &out))
	return resp.Data[logical.HTTPStatusCode].(int), out
}

func TestRespond(t *testing.T) {
	var log strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &log})

	resp, err := Respond(map[string]any{"KeyId": "k"}, nil, logger)
	require.NoError(t, err)
	status, out := body(t, resp)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"KeyId": "k"}, out)

	// A write on a performance standby goes back to Vault, which forwards it.
	resp, err = Respond(nil, logical.ErrReadOnly, logger)
	require.Nil(t, resp)
	require.ErrorIs(t, err, logical.ErrReadOnly)

	resp, err = Respond(nil, errDryRun(), logger)
	require.NoError(t, err)
	status, out = body(t, resp)
	require.Equal(t, http.StatusPreconditionFailed, status, "a dry run's success is AWS's 412")
	require.Equal(t, kmserr.DryRunOperation, out["__type"])

	resp, err = Respond(nil, kmserr.NotFoundf("key %s", "k"), logger)
	require.NoError(t, err)
	status, out = body(t, resp)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, kmserr.NotFound, out["__type"])
	require.Empty(t, log.String(), "a refusal is not logged")

	resp, err = Respond(nil, errors.New("storage exploded at /secret/path"), logger)
	require.NoError(t, err)
	status, out = body(t, resp)
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, kmserr.Internal, out["__type"])
	require.NotContains(t, out["message"], "exploded", "a server fault's detail stays in the log")
	require.Contains(t, log.String(), "exploded")
}

func TestDryRunProtocol(t *testing.T) {
	ctx := context.Background()
	recorded := 0
	// As the root's admit: a dry run notes no use at all.
	use := func(ctx context.Context) error {
		if !IsDryRun(ctx) {
			NoteUse(ctx, func() { recorded++ })
		}
		return DryRunStop(ctx)
	}

	require.NoError(t, DryRun(ctx, false, nil, use))
	require.Equal(t, 1, recorded, "a real call records its use once it succeeded")

	err := DryRun(ctx, false, nil, func(ctx context.Context) error {
		NoteUse(ctx, func() { recorded++ })
		return kmserr.Validationf("refused")
	})
	requireExc(t, err, kmserr.Validation)
	require.Equal(t, 1, recorded, "a refused call is not key usage")

	requireExc(t, DryRun(ctx, true, nil, use), kmserr.DryRunOperation)
	require.Equal(t, 1, recorded, "a dry run is not key usage")

	var ignored bool
	err = DryRun(ctx, true, []string{IgnoreCiphertext}, func(ctx context.Context) error {
		ignored = IsDryRun(ctx) && IgnoresCiphertext(ctx)
		return nil
	})
	requireExc(t, err, kmserr.DryRunOperation)
	require.True(t, ignored)
	requireExc(t, DryRun(ctx, true, []string{"IGNORE_EVERYTHING"}, use), kmserr.Validation)
	requireExc(t, DryRun(ctx, false, []string{IgnoreCiphertext}, use), kmserr.Validation)
	require.False(t, IsDryRun(ctx))
	require.NoError(t, DryRunStop(ctx))
}
