package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// newVaultStorageBackend is a test backend on storage layered as Vault
// layers a mount's: a storage view (which refuses ".." with
// ErrRelativePath) over the physical encoding layer (which refuses invalid
// UTF-8 and control characters) over the in-memory physical backend.
func newVaultStorageBackend(t *testing.T) *testBackend {
	t.Helper()
	phys, err := inmem.NewInmem(nil, hclog.NewNullLogger())
	require.NoError(t, err)
	s := logical.NewStorageView(logical.NewLogicalStorage(physical.NewStorageEncoding(phys)), "")
	conf := logical.TestBackendConfig()
	conf.StorageView = s
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	tb := &testBackend{backend: raw.(*backend), t: t, storage: s, clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tb.backend.now = func() time.Time { return tb.clock }
	return tb
}

// badIDs are ids that storage refuses or that no id can be: relative path
// segments, control characters, invalid UTF-8, and an ARN and an alias
// carrying them.
func badIDs(arns keystore.ARNScheme) []string {
	return []string{"..", "../", "a/..", "../../sys/seal", "./x", "x/../../y", "a\x00b", "\x01", "\xff\xfe",
		"a\u2028b", strings.Repeat("..", 200), arns.Key(".."), arns.Key("../../sys/seal"), "alias/..", "alias/../x",
		"alias/a\x00", arns.Alias("alias/.."), "%2e%2e"}
}

// idMembers are the request members that carry an id.
var idMembers = map[string]bool{"KeyId": true, "TargetKeyId": true, "DestinationKeyId": true, "SourceKeyId": true,
	"AliasName": true, "GrantId": true}

// fillers are otherwise valid values for the other members, so a request
// gets as far as its ids.
func fillers(tb *testBackend, keyID string) map[string]any {
	blob := tb.aws("", "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString([]byte("hi"))})["CiphertextBlob"]
	b64 := base64.StdEncoding.EncodeToString([]byte("hi"))
	return map[string]any{
		"KeyId": keyID, "TargetKeyId": keyID, "DestinationKeyId": keyID, "SourceKeyId": keyID,
		"AliasName": "alias/fill", "GrantId": strings.Repeat("ab", 32),
		"Plaintext": b64, "CiphertextBlob": blob, "Message": b64, "Signature": b64, "Mac": b64,
		"MacAlgorithm": "HMAC_SHA_256", "SigningAlgorithm": "ECDSA_SHA_256", "NumberOfBytes": 32,
		"GranteePrincipal": "entity:someone", "Operations": []string{"Encrypt"}, "RetiringPrincipal": "entity:someone",
		"Tags": []map[string]string{{"TagKey": "k", "TagValue": "v"}}, "TagKeys": []string{"k"},
		"Description": "d", "PendingWindowInDays": 7, "RotationPeriodInDays": 90, "PolicyName": "default",
		"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048",
		"ImportToken": b64, "EncryptedKeyMaterial": b64, "PublicKey": b64, "KeyAgreementAlgorithm": "ECDH",
		"GrantToken": b64,
	}
}

// Every AWS operation, given an id that storage would refuse in any of its
// id members, answers a 4xx with an AWS exception, never a 500
// (issue 18: RevokeGrant {"KeyId":"../"} was a KMSInternalException).
func TestBadIDsEveryAWSOperation(t *testing.T) {
	tb := newVaultStorageBackend(t)
	keyID := tb.createKey(nil)
	arns, err := tb.arns(context.Background(), tb.storage)
	require.NoError(t, err)
	fill := fillers(tb, keyID)
	checked := 0
	for name, op := range awsapi.Operations {
		for _, member := range op.Members {
			if !idMembers[member] {
				continue
			}
			for _, bad := range badIDs(arns) {
				// Alone, and with every other member valid.
				for _, body := range []map[string]any{{member: bad}, withMember(fill, op.Members, member, bad)} {
					status, out := tb.awsCall("", "aws", "TrentService."+name, body)
					require.Equal(t, http.StatusBadRequest, status, "%s %s=%q: %v", name, member, bad, out)
					require.NotEmpty(t, out["__type"], "%s %s=%q", name, member, bad)
					require.NotEqual(t, kmserr.Internal, out["__type"], "%s %s=%q: %v", name, member, bad, out)
					checked++
				}
			}
		}
	}
	require.Greater(t, checked, 36*len(badIDs(arns)))
}

func withMember(fill map[string]any, members []string, member string, v any) map[string]any {
	out := map[string]any{}
	for _, m := range members {
		if f, ok := fill[m]; ok {
			out[m] = f
		}
	}
	out[member] = v
	return out
}

// The Vault-style path of every AWS operation, with the bad id in the
// path, answers a client error naming an AWS exception.
func TestBadIDsVaultPaths(t *testing.T) {
	tb := newVaultStorageBackend(t)
	keyID := tb.createKey(nil)
	arns, err := tb.arns(context.Background(), tb.storage)
	require.NoError(t, err)
	for name, op := range awsapi.Operations {
		if !strings.Contains(op.Route, ":") && !hasMember(op.Members, "KeyId") {
			continue
		}
		for _, bad := range badIDs(arns) {
			paths := map[string]map[string]any{}
			switch {
			case strings.Contains(op.Route, ":grant_id"):
				paths[strings.ReplaceAll(op.Route, ":key", bad)] = nil
				paths[strings.NewReplacer(":key", keyID, ":grant_id", bad).Replace(op.Route)] = nil
			case strings.Contains(op.Route, ":key"), strings.Contains(op.Route, ":name"):
				paths[strings.NewReplacer(":key", bad, ":name", bad).Replace(op.Route)] = map[string]any{"target_key_id": bad}
			default:
				paths[op.Route] = map[string]any{"key_id": bad, "grant_id": strings.Repeat("ab", 32)}
			}
			for path, data := range paths {
				req := &logical.Request{Operation: op.Op, Path: path, Data: data, Storage: tb.storage}
				resp, err := tb.HandleRequest(context.Background(), req)
				if err == nil {
					// Only a listing that names nothing may succeed.
					if resp != nil && resp.IsError() {
						t.Fatalf("%s %s: an error response without an exception: %v", name, path, resp.Error())
					}
					continue
				}
				if errors.Is(err, logical.ErrUnsupportedPath) || errors.Is(err, logical.ErrUnsupportedOperation) {
					continue // routing: no pattern or no such operation there (Vault's 404, 405)
				}
				var ke *kmserr.Error
				require.True(t, errors.As(err, &ke), "%s %s: %v", name, path, err)
				require.Less(t, ke.Code(), 500, "%s %s: %v", name, path, err)
				require.NotEmpty(t, ke.Type)
			}
		}
	}
}

func hasMember(members []string, m string) bool {
	for _, x := range members {
		if x == m {
			return true
		}
	}
	return false
}

// The ids as AWS answers them: an id that is not ours is not found, a
// malformed grant id is InvalidGrantIdException.
func TestBadIDExceptions(t *testing.T) {
	tb := newVaultStorageBackend(t)
	keyID := tb.createKey(nil)
	for _, bad := range []string{"../", "a/..", "../../sys/seal"} {
		tb.awsFails(kmserr.NotFound, "", "RevokeGrant", map[string]any{"KeyId": bad, "GrantId": strings.Repeat("0", 64)})
		tb.awsFails(kmserr.NotFound, "", "DescribeKey", map[string]any{"KeyId": bad})
		tb.awsFails(kmserr.NotFound, "", "Encrypt", map[string]any{"KeyId": bad, "Plaintext": "aGk="})
		tb.awsFails(kmserr.InvalidGrantID, "", "RevokeGrant", map[string]any{"KeyId": keyID, "GrantId": bad})
		tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/"+bad, nil)
		tb.fails(kmserr.NotFound, logical.UpdateOperation, "encrypt/"+bad, map[string]any{"plaintext": "aGk="})
	}
	tb.awsFails(kmserr.NotFound, "", "Encrypt", map[string]any{"KeyId": "alias/..", "Plaintext": "aGk="})
}

// The SDK's client errors are refusals with an exception; anything else is
// a server fault.
func TestClassify(t *testing.T) {
	for _, err := range []error{logical.ErrRelativePath, physical.ErrNonUTF8, physical.ErrNonPrintable,
		errors.New("rpc error: relative paths not supported"), logical.ErrInvalidRequest,
		&logical.StatusBadRequest{Err: "bad"}, logical.CodedError(http.StatusNotFound, "gone")} {
		ke := kmserr.Classify(err)
		require.NotNil(t, ke, "%v", err)
		require.Less(t, ke.Code(), 500)
		require.NotEmpty(t, ke.Type)
	}
	require.Equal(t, kmserr.NotFound, kmserr.Classify(logical.CodedError(http.StatusNotFound, "gone")).Type)
	for _, err := range []error{errors.New("storage unavailable"), logical.CodedError(http.StatusInternalServerError, "x")} {
		require.Nil(t, kmserr.Classify(err), "%v", err)
	}
}

// refusingStorage fails reads as Vault's storage fails a refused path.
type refusingStorage struct {
	logical.Storage
	err error
}

func (s refusingStorage) List(context.Context, string) ([]string, error) { return nil, s.err }

func (s refusingStorage) Get(context.Context, string) (*logical.StorageEntry, error) {
	return nil, s.err
}

// An existence check whose lookup storage refuses as the client's fault is
// "does not exist" (Vault would turn the error into a 500); a server fault
// stays an error.
func TestExistenceCheckClientError(t *testing.T) {
	tb := newTestBackend(t)
	for _, c := range []struct {
		err     error
		wantErr bool
	}{{logical.ErrRelativePath, false}, {errors.New("rpc error: key contains invalid UTF-8 characters"), false}, {errors.New("disk on fire"), true}} {
		req := &logical.Request{Operation: logical.CreateOperation, Path: "aliases/alias/x",
			Storage: refusingStorage{Storage: tb.storage, err: c.err}}
		found, exists, err := tb.HandleExistenceCheck(context.Background(), req)
		require.True(t, found)
		require.False(t, exists)
		if c.wantErr {
			require.Error(t, err)
		} else {
			require.NoError(t, err, "%v", c.err)
		}
	}
}
