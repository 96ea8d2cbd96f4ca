package kms

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// The member walk: every member of every operation of the pinned AWS SDK
// is either honoured or refused with a clear 4xx exception, never silently
// dropped. Each operation has fixtures, complete requests built with the
// SDK's own input types, that set every honoured member with a valid value;
// the SDK serialises them exactly as it would for AWS. Upgrading the SDK
// makes each new member (and each new operation) fail here until it is
// honoured (with a named test) or refused.

// honouredBy names, for each honoured member, a test of this package that
// shows the member's effect. "Op.Member" overrides "Member"; a nested
// member is "Op.Member.Field". The walk checks the test exists and names
// the member (or the Vault-style field it becomes) in a string literal.
var honouredBy = map[string]string{
	"KeyId":                                 "TestAWSKeyLifecycle",
	"EncapsulationAlgorithm":                "TestKEMPaths",
	"SharedSecretCiphertextBlob":            "TestKEMPaths",
	"DryRun":                                "TestDryRun",
	"DryRunModifiers":                       "TestDryRun",
	"GrantTokens":                           "TestPoliciesAndGrants",
	"Limit":                                 "TestAWSKeyLifecycle",
	"Marker":                                "TestAWSKeyLifecycle",
	"Plaintext":                             "TestAWSCryptoSharesVaultPaths",
	"CiphertextBlob":                        "TestAWSCryptoSharesVaultPaths",
	"EncryptionContext":                     "TestAWSCryptoSharesVaultPaths",
	"EncryptionAlgorithm":                   "TestRSAEncryption",
	"SourceEncryptionContext":               "TestAWSCryptoSharesVaultPaths",
	"DestinationEncryptionContext":          "TestReEncrypt",
	"SourceEncryptionAlgorithm":             "TestReEncrypt",
	"DestinationEncryptionAlgorithm":        "TestReEncrypt",
	"SourceKeyId":                           "TestReEncrypt",
	"DestinationKeyId":                      "TestAWSCryptoSharesVaultPaths",
	"Message":                               "TestSignVerifyPaths",
	"MessageType":                           "TestSignVerifyPaths",
	"Signature":                             "TestSignVerifyPaths",
	"SigningAlgorithm":                      "TestSignVerifyPaths",
	"Mac":                                   "TestMACPaths",
	"MacAlgorithm":                          "TestMACPaths",
	"KeyAgreementAlgorithm":                 "TestRandomAndDerive",
	"PublicKey":                             "TestRandomAndDerive",
	"NumberOfBytes":                         "TestDataKeys",
	"KeySpec":                               "TestDataKeys",
	"KeyPairSpec":                           "TestDataKeyPairs",
	"Description":                           "TestAWSKeyLifecycle",
	"Tags":                                  "TestAWSKeyLifecycle",
	"Tags.TagKey":                           "TestAWSKeyLifecycle",
	"Tags.TagValue":                         "TestAWSKeyLifecycle",
	"TagKeys":                               "TestTags",
	"AliasName":                             "TestAWSKeyLifecycle",
	"TargetKeyId":                           "TestAWSKeyLifecycle",
	"Policy":                                "TestAWSAuthorizationIsTheCallers",
	"PolicyName":                            "TestAWSAuthorizationIsTheCallers",
	"BypassPolicyLockoutSafetyCheck":        "TestLockoutAndRecovery",
	"GranteePrincipal":                      "TestAWSAuthorizationIsTheCallers",
	"RetiringPrincipal":                     "TestPoliciesAndGrants",
	"Operations":                            "TestAWSAuthorizationIsTheCallers",
	"Name":                                  "TestAWSAuthorizationIsTheCallers",
	"Constraints":                           "TestAWSAuthorizationIsTheCallers",
	"Constraints.EncryptionContextEquals":   "TestAWSGrantConstraints",
	"Constraints.EncryptionContextSubset":   "TestAWSAuthorizationIsTheCallers",
	"GrantId":                               "TestAWSAuthorizationIsTheCallers",
	"GrantToken":                            "TestPoliciesAndGrants",
	"PendingWindowInDays":                   "TestAWSKeyLifecycle",
	"RotationPeriodInDays":                  "TestAutomaticRotation",
	"WrappingAlgorithm":                     "TestAWSImportTokenIsABlob",
	"WrappingKeySpec":                       "TestAWSImportTokenIsABlob",
	"ImportToken":                           "TestAWSImportTokenIsABlob",
	"EncryptedKeyMaterial":                  "TestAWSImportTokenIsABlob",
	"ExpirationModel":                       "TestImportedMaterialExpires",
	"ValidTo":                               "TestImportedMaterialExpires",
	"Origin":                                "TestAWSImportTokenIsABlob",
	"KeyUsage":                              "TestAWSKeyLifecycle",
	"CreateKey.KeySpec":                     "TestAWSKeyLifecycle",
	"CustomerMasterKeySpec":                 "TestAWSRefusedMembers",
	"MultiRegion":                           "TestAWSRefusedMembers",
	"IncludeKeyMaterial":                    "TestImportSeveralMaterials",
	"ImportType":                            "TestImportSeveralMaterials",
	"KeyMaterialId":                         "TestImportSeveralMaterials",
	"KeyMaterialDescription":                "TestImportSeveralMaterials",
	"ListResourceTags.Limit":                "TestAWSListResourceTagsPages",
	"DescribeKey.GrantTokens":               "TestDescribeKeyGrantTokens",
	"ListKeyPolicies.Limit":                 "TestListKeyPoliciesPages",
	"ListKeyPolicies.Marker":                "TestListKeyPoliciesPages",
	"ListResourceTags.Marker":               "TestAWSListResourceTagsPages",
	"ListGrants.GranteePrincipal":           "TestAWSGrantConstraints",
	"ListRetirableGrants.RetiringPrincipal": "TestPoliciesAndGrants",

	"CustomKeyStoreName":                        "TestAWSCustomKeyStores",
	"CloudHsmClusterId":                         "TestAWSCustomKeyStores",
	"CustomKeyStoreType":                        "TestAWSCustomKeyStores",
	"KeyStorePassword":                          "TestAWSCustomKeyStores",
	"TrustAnchorCertificate":                    "TestAWSCustomKeyStores",
	"NewCustomKeyStoreName":                     "TestAWSCustomKeyStores",
	"DescribeCustomKeyStores.CustomKeyStoreId":  "TestAWSCustomKeyStores",
	"DescribeCustomKeyStores.Limit":             "TestAWSCustomKeyStores",
	"DescribeCustomKeyStores.Marker":            "TestAWSCustomKeyStores",
	"ConnectCustomKeyStore.CustomKeyStoreId":    "TestAWSCustomKeyStores",
	"DisconnectCustomKeyStore.CustomKeyStoreId": "TestAWSCustomKeyStores",
	"UpdateCustomKeyStore.CustomKeyStoreId":     "TestAWSCustomKeyStores",
	"DeleteCustomKeyStore.CustomKeyStoreId":     "TestAWSCustomKeyStores",
	"CreateKey.CustomKeyStoreId":                "TestAWSHSMKeys",
}

// refusedSample is, for each refused member, a valid value the plugin must
// refuse. Members not listed get a value generated from their type.
var refusedSample = map[string]any{
	"MultiRegion": aws.Bool(true),
}

// refused reports whether the plugin refuses the member (possibly only
// some of its values).
func refused(member string) bool {
	if _, ok := refusedSample[member]; ok {
		return true
	}
	return slices.Contains([]string{"CustomKeyStoreId", "XksKeyId", "Recipient", "GranteeServicePrincipal", "RetiringServicePrincipal",
		"Constraints.SourceArn", "XksProxyAuthenticationCredential", "XksProxyConnectivity", "XksProxyUriEndpoint", "XksProxyUriPath",
		"XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"}, member)
}

// refusedIn is refused for one operation: the custom key store operations
// and CreateKey take CustomKeyStoreId, which GenerateRandom refuses.
func refusedIn(op, member string) bool {
	if _, ok := awsapi.OpMembers[op][member]; ok {
		return false
	}
	return refused(member)
}

// sdkOperations are the SDK client's operations: method name and input type.
func sdkOperations() map[string]reflect.Method {
	ops := map[string]reflect.Method{}
	ct := reflect.TypeOf(&awskms.Client{})
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		if m.Type.NumIn() == 4 && m.Type.In(2).Kind() == reflect.Pointer && m.Type.In(2).Elem().Name() == m.Name+"Input" {
			ops[m.Name] = m
		}
	}
	return ops
}

// call runs an operation through the SDK client.
func call(c *awskms.Client, m reflect.Method, in any) error {
	res := m.Func.Call([]reflect.Value{reflect.ValueOf(c), reflect.ValueOf(context.Background()), reflect.ValueOf(in)})
	if err, _ := res[1].Interface().(error); err != nil {
		return err
	}
	return nil
}

// members lists an input struct's members, with the struct members of
// honoured members (Constraints.SourceArn) as "Member.Field".
func members(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := prefix + f.Name
		out = append(out, name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeOf(types.Tag{}).PkgPath() && !refused(name) {
			out = append(out, members(ft, name+".")...)
		}
	}
	return out
}

// sample is a valid value of type t: the first value of an enum, a short
// string, one element of a list, every member of a structure.
func sample(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Pointer:
		if t == reflect.TypeOf(&time.Time{}) {
			v.Set(reflect.ValueOf(aws.Time(time.Now().Add(time.Hour))))
			break
		}
		v.Set(reflect.New(t.Elem()))
		v.Elem().Set(sample(t.Elem()))
	case reflect.String:
		if vals := v.MethodByName("Values"); vals.IsValid() {
			v.Set(vals.Call(nil)[0].Index(0))
		} else {
			v.SetString("sample")
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("sample"))
		} else {
			v.Set(reflect.Append(v, sample(t.Elem())))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		v.SetMapIndex(sample(t.Key()), sample(t.Elem()))
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(sample(t.Field(i).Type))
			}
		}
	}
	return v
}

// field finds a (possibly nested) member of an input struct, allocating
// the structs on the way.
func field(in reflect.Value, path string) reflect.Value {
	v := in.Elem()
	parts := strings.Split(path, ".")
	for i, p := range parts {
		v = v.FieldByName(p)
		if i < len(parts)-1 {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
			}
		}
	}
	return v
}

// setIn reports, for each member path, whether the fixture sets it.
func setIn(in any, paths []string) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		v := reflect.ValueOf(in).Elem()
		ok := true
		for _, part := range strings.Split(p, ".") {
			for v.Kind() == reflect.Pointer || v.Kind() == reflect.Slice {
				if v.IsNil() || (v.Kind() == reflect.Slice && v.Len() == 0) {
					ok = false
					break
				}
				if v.Kind() == reflect.Pointer {
					v = v.Elem()
				} else {
					v = v.Index(0)
				}
			}
			if !ok {
				break
			}
			v = v.FieldByName(part)
		}
		out[p] = ok && !v.IsZero()
	}
	return out
}

// clone copies an input struct, with refused members and DryRun unset.
func clone(in any, unset []string) any {
	c := reflect.New(reflect.TypeOf(in).Elem())
	c.Elem().Set(reflect.ValueOf(in).Elem())
	for _, m := range unset {
		if !strings.Contains(m, ".") {
			f := c.Elem().FieldByName(m)
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c.Interface()
}

// require4xx asserts an AWS exception with a 4xx status whose message
// names what.
func require4xx(t *testing.T, err error, what string) {
	t.Helper()
	var api smithy.APIError
	require.True(t, errors.As(err, &api), "want an AWS exception, got %v", err)
	var re *smithyhttp.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	require.GreaterOrEqual(t, re.HTTPStatusCode(), 400, "%v", err)
	require.Less(t, re.HTTPStatusCode(), 500, "%v", err)
	require.Contains(t, api.ErrorMessage(), what, "the refusal names the member")
}

func TestAWSEveryMemberHonouredOrRefused(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	c := tb.sdkClient("")
	w := &walk{t: t, tb: tb, hsm: newHSMEnv(t, tb, 3)}
	tb.cks.Limit = 1000 // the walk creates more custom key stores than AWS's quota
	tests := testFunctions(t)
	ops := sdkOperations()
	require.Greater(t, len(ops), 50, "the SDK's operations were found")
	for name, m := range ops {
		t.Run(name, func(t *testing.T) {
			w.t = t
			if awsapi.Unsupported[name] {
				err := call(c, m, sample(m.Type.In(2)).Interface())
				require.ErrorContains(t, err, kmserr.UnsupportedOperation)
				return
			}
			fixture, ok := fixtures[name]
			require.True(t, ok, "operation %s has no fixture: implement it or list it as unsupported", name)
			paths := members(m.Type.In(2).Elem(), "")
			op := awsapi.Operations[name]
			var refusedHere []string
			for _, p := range paths {
				top, _, _ := strings.Cut(p, ".")
				require.Contains(t, op.Members, top, "%s takes member %s: add it to awsapi.Operations (honoured or refused)", name, top)
				if refusedIn(name, p) {
					refusedHere = append(refusedHere, p)
				}
				if !refusedIn(name, p) || p == "MultiRegion" {
					test := honouredBy[name+"."+p]
					if test == "" {
						test = honouredBy[p]
					}
					require.NotEmpty(t, test, "member %s.%s is neither honoured (name a test in honouredBy) nor refused", name, p)
					requireTestNames(t, tests, test, p)
				}
			}
			for _, mem := range op.Members {
				require.Contains(t, paths, mem, "%s is not a member of the SDK's %s", mem, name)
			}

			// Every honoured member, with valid values, is accepted.
			covered := map[string]bool{}
			for _, in := range fixture(w) {
				for p, ok := range setIn(in, paths) {
					covered[p] = covered[p] || ok
				}
				require.NoError(t, call(c, m, clone(in, refusedHere)), "%s with every honoured member", name)
			}
			for _, p := range paths {
				if !refusedIn(name, p) && p != "DryRun" && p != "DryRunModifiers" {
					require.True(t, covered[p], "no fixture of %s sets %s", name, p)
				}
			}

			// DryRun: the same request answers DryRunOperationException and
			// leaves everything as it was, so the real call then succeeds.
			if slices.Contains(paths, "DryRun") {
				in := clone(fixture(w)[0], refusedHere)
				field(reflect.ValueOf(in), "DryRun").Set(reflect.ValueOf(aws.Bool(true)))
				var dry *types.DryRunOperationException
				err := call(c, m, in)
				require.ErrorAs(t, err, &dry, "%s with DryRun", name)
				var re *smithyhttp.ResponseError
				require.ErrorAs(t, err, &re)
				require.Equal(t, http.StatusPreconditionFailed, re.HTTPStatusCode())
				field(reflect.ValueOf(in), "DryRun").Set(reflect.ValueOf(aws.Bool(false)))
				require.NoError(t, call(c, m, in), "%s after its dry run", name)
				if slices.Contains(paths, "DryRunModifiers") {
					// IGNORE_CIPHERTEXT checks access without opening the ciphertext.
					field(reflect.ValueOf(in), "DryRun").Set(reflect.ValueOf(aws.Bool(true)))
					field(reflect.ValueOf(in), "DryRunModifiers").Set(reflect.ValueOf([]types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}))
					field(reflect.ValueOf(in), "CiphertextBlob").Set(reflect.ValueOf([]byte("not a ciphertext")))
					require.ErrorAs(t, call(c, m, in), &dry, "%s with IGNORE_CIPHERTEXT", name)
				}
			}

			// Each refused member, alone with a valid value, is refused
			// with a 4xx that names it.
			for _, p := range refusedHere {
				in := clone(fixture(w)[0], refusedHere)
				f := field(reflect.ValueOf(in), p)
				if v, ok := refusedSample[p]; ok {
					f.Set(reflect.ValueOf(v))
				} else {
					f.Set(sample(f.Type()))
				}
				require4xx(t, call(c, m, in), p)
			}
		})
	}
	for name := range awsapi.Operations {
		require.Contains(t, ops, name, "the plugin serves %s, which the SDK does not know", name)
	}
}

// testFunctions parses this package's tests: test name to body source.
func testFunctions(t *testing.T) map[string]string {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, fn := range files {
		src, err := os.ReadFile(fn)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, fn, src, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fd.Name.Name, "Test") {
				out[fd.Name.Name] = string(src[fset.Position(fd.Pos()).Offset:fset.Position(fd.End()).Offset])
			}
		}
	}
	return out
}

// requireTestNames asserts the named test exists and names the member or
// the Vault-style field it becomes, as a string literal.
func requireTestNames(t *testing.T, tests map[string]string, test, member string) {
	t.Helper()
	body, ok := tests[test]
	require.True(t, ok, "member %s: test %s does not exist", member, test)
	last := member[strings.LastIndex(member, ".")+1:]
	names := []string{strconv.Quote(last)}
	if conv, ok := awsapi.Members[last]; ok {
		for _, v := range []any{"x", json.Number("1")} {
			out := map[string]any{}
			_ = conv(v, out)
			for f := range out {
				names = append(names, strconv.Quote(f))
			}
		}
	}
	for _, n := range names {
		if strings.Contains(body, n) {
			return
		}
	}
	require.Failf(t, "test does not name the member", "member %s: test %s names none of %v", member, test, names)
}
