package integration

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

// Custom key stores through a real Vault, with a real SoftHSM2 token that
// the plugin process loads: the operator's sudo path, Vault ACLs refusing
// the others, the Vault-style paths with the CLI and HTTP, and the AWS SDK
// for Go with AWS's typed exceptions.
func TestCustomKeyStores(t *testing.T) {
	soft := hsmtest.New(t) // SOFTHSM2_CONF reaches Vault, and the plugin inherits it
	tok := soft.InitToken(t, "kms-it")
	v := startOwnDev(t)
	const conn = "cluster-integrationhsm"

	// The operator defines the connection with the CLI.
	mustCLI(t, v, "write", "kms/config/hsm/"+conn, "module_path="+soft.Module, "token_label="+tok.Label, "pin="+tok.PIN)
	out := mustCLI(t, v, "read", "-format=json", "kms/config/hsm/"+conn)
	require.Contains(t, out, tok.Label)
	require.NotContains(t, out, tok.PIN, "the PIN is never returned")

	admin := cksACLs(t, v, conn, soft.Module, tok)

	// The Vault-style paths over HTTP.
	created := cwrite(t, admin, "kms/custom-key-stores", map[string]any{"custom_key_store_name": "orders",
		"cloud_hsm_cluster_id": conn, "key_store_password": tok.PIN})
	id := created["custom_key_store_id"].(string)
	require.Equal(t, "DISCONNECTED", created["connection_state"])
	cwriteErr(t, admin, "kms/custom-key-stores", map[string]any{"custom_key_store_name": "again",
		"cloud_hsm_cluster_id": conn, "key_store_password": tok.PIN}, http.StatusBadRequest, "CloudHsmClusterInUseException")
	cwrite(t, admin, "kms/custom-key-stores/"+id+"/connect", nil)
	require.Equal(t, "CONNECTED", cread(t, admin, "kms/custom-key-stores/"+id)["connection_state"])
	listed := clist(t, admin, "kms/custom-key-stores")
	require.Equal(t, []any{id}, listed["keys"])

	// The AWS SDK for Go.
	c := awsClientAt(v.addr, admin.Token())
	ctx := t.Context()
	desc, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("orders")})
	require.NoError(t, err)
	require.Len(t, desc.CustomKeyStores, 1)
	got := desc.CustomKeyStores[0]
	require.Equal(t, id, aws.ToString(got.CustomKeyStoreId))
	require.Equal(t, types.ConnectionStateTypeConnected, got.ConnectionState)
	require.Equal(t, types.CustomKeyStoreTypeAwsCloudhsm, got.CustomKeyStoreType)
	require.Equal(t, conn, aws.ToString(got.CloudHsmClusterId))
	require.NotNil(t, got.CreationDate)

	_, err = c.UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), NewCustomKeyStoreName: aws.String("n")})
	var invalid *types.CustomKeyStoreInvalidStateException
	require.ErrorAs(t, err, &invalid, "update while connected")
	_, err = c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	require.ErrorAs(t, err, &invalid, "delete while connected")
	_, err = c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id),
		NewCustomKeyStoreName: aws.String("renamed"), KeyStorePassword: aws.String(tok.PIN)})
	require.NoError(t, err)
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	require.NoError(t, err)
	desc, err = c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	require.NoError(t, err)
	require.Equal(t, "renamed", aws.ToString(desc.CustomKeyStores[0].CustomKeyStoreName))
	require.Equal(t, types.ConnectionStateTypeConnected, desc.CustomKeyStores[0].ConnectionState)
	_, err = c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	var notFound *types.CustomKeyStoreNotFoundException
	require.ErrorAs(t, err, &notFound)

	// The connection can go once no store uses it.
	mustCLI(t, v, "delete", "kms/config/hsm/"+conn)
}

// cksACLs checks that Vault's ACLs guard custom key stores and returns a
// client allowed everything on kms/ but sudo.
func cksACLs(t *testing.T, v *vaultServer, conn, module string, tok hsmtest.Token) *api.Client {
	t.Helper()
	root := v.client
	// Everything on kms/ but sudo: no HSM connections, custom key stores yes.
	require.NoError(t, root.Sys().PutPolicy("cks-admin", `path "kms/*" { capabilities = ["create", "read", "update", "delete", "list"] }`))
	require.NoError(t, root.Sys().PutPolicy("kms-keys", `path "kms/keys*" { capabilities = ["create", "read", "update", "list"] }
path "kms/aws/CreateKey" { capabilities = ["update"] }`))
	admin := tokenClient(t, v, "cks-admin")
	keysOnly := tokenClient(t, v, "kms-keys")
	_, err := admin.Logical().Write("kms/config/hsm/cluster-anothertoken", map[string]any{"module_path": module,
		"token_label": tok.Label, "pin": tok.PIN})
	requireForbidden(t, err, "defining an HSM connection needs sudo")
	_, err = admin.Logical().Read("kms/config/hsm/" + conn)
	requireForbidden(t, err, "reading an HSM connection needs sudo")
	_, err = keysOnly.Logical().Write("kms/custom-key-stores", map[string]any{"custom_key_store_name": "x",
		"cloud_hsm_cluster_id": conn, "key_store_password": tok.PIN})
	requireForbidden(t, err, "a caller without the ACL cannot create a store")
	_, err = awsClientAt(v.addr, keysOnly.Token()).DescribeCustomKeyStores(t.Context(), &kms.DescribeCustomKeyStoresInput{})
	require.Error(t, err, "a caller without the ACL on kms/aws/DescribeCustomKeyStores is refused")

	return admin
}

// tokenClient is a client of v with a new token holding only policy.
func tokenClient(t *testing.T, v *vaultServer, policy string) *api.Client {
	t.Helper()
	secret, err := v.client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{policy}})
	require.NoError(t, err)
	c, err := v.client.Clone()
	require.NoError(t, err)
	c.SetToken(secret.Auth.ClientToken)
	return c
}

func requireForbidden(t *testing.T, err error, why string) {
	t.Helper()
	var re *api.ResponseError
	require.True(t, errors.As(err, &re), "%s: want an HTTP error, got %v", why, err)
	require.Equal(t, http.StatusForbidden, re.StatusCode, "%s: %s", why, strings.Join(re.Errors, "; "))
}
