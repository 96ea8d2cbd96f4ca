package integration

import (
	"bytes"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

// Keys in a custom key store through a real Vault, with the plugin
// registered with SOFTHSM2_CONF and the test clock: CreateKey in the
// store, the object in the token as pkcs11-tool sees it, encryption with
// context and data keys through the AWS SDK and the Vault-style paths, the
// key Unavailable while the store is disconnected, and deletion at the end
// of the window destroying the object.
func TestCustomKeyStoreKeys(t *testing.T) {
	soft := hsmtest.New(t)
	tok := soft.InitToken(t, "kms-it-keys")
	v := startOwnDev(t)
	registerWithEnv(t, v, "SOFTHSM2_CONF="+soft.Conf, "VAULT_KMS_TEST_CLOCK=1")
	const conn = "cluster-integrationkeys"
	mustCLI(t, v, "write", "kms/config/hsm/"+conn, "module_path="+soft.Module, "token_label="+tok.Label, "pin="+tok.PIN)
	store := cwrite(t, v.client, "kms/custom-key-stores", map[string]any{"custom_key_store_name": "keys",
		"cloud_hsm_cluster_id": conn, "key_store_password": tok.PIN})["custom_key_store_id"].(string)
	cwrite(t, v.client, "kms/custom-key-stores/"+store+"/connect", nil)
	c := awsClientAt(v.addr, v.token)
	ctx := t.Context()

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{CustomKeyStoreId: aws.String(store), Origin: types.OriginTypeAwsCloudhsm})
	require.NoError(t, err)
	md := created.KeyMetadata
	id := aws.ToString(md.KeyId)
	require.Equal(t, store, aws.ToString(md.CustomKeyStoreId))
	require.Equal(t, conn, aws.ToString(md.CloudHsmClusterId))
	require.Equal(t, types.OriginTypeAwsCloudhsm, md.Origin)
	label := "kms-" + id + "-v1"
	obj := hsmtest.Object(soft.ListObjects(t, tok), label)
	for _, want := range []string{"Secret Key Object; AES length 32", "sensitive", "never extractable"} {
		require.Contains(t, obj, want)
	}

	// Encrypt and decrypt with a context, through the SDK and HTTP.
	ec := map[string]string{"tenant": "a"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("in the HSM"), EncryptionContext: ec})
	require.NoError(t, err)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	require.Equal(t, []byte("in the HSM"), dec.Plaintext)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "b"}})
	var badCT *types.InvalidCiphertextException
	require.ErrorAs(t, err, &badCT)
	vs := cwrite(t, v.client, "kms/decrypt", map[string]any{"ciphertext_blob": b64(enc.CiphertextBlob), "encryption_context": map[string]any{"tenant": "a"}})
	require.Equal(t, b64([]byte("in the HSM")), vs["plaintext"])

	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	require.NoError(t, err)
	back, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	require.True(t, bytes.Equal(dk.Plaintext, back.Plaintext))
	pair, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	require.NoError(t, err)
	back, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: pair.PrivateKeyCiphertextBlob})
	require.NoError(t, err)
	require.True(t, bytes.Equal(pair.PrivateKeyPlaintext, back.Plaintext))

	// Disconnected: Unavailable, KMSInvalidStateException; then back.
	_, err = c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
	require.NoError(t, err)
	desc, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	require.Equal(t, types.KeyStateUnavailable, desc.KeyMetadata.KeyState)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	var invalidState *types.KMSInvalidStateException
	require.ErrorAs(t, err, &invalidState)
	cwriteErr(t, v.client, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))}, http.StatusBadRequest, "KMSInvalidStateException")
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
	require.NoError(t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	require.Equal(t, []byte("in the HSM"), dec.Plaintext)

	// Deletion: the window ends on the test clock, the periodic function
	// (about once a minute) destroys the object.
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	require.NoError(t, err)
	cwrite(t, v.client, "kms/test/clock", map[string]any{"offset": 8 * 86400})
	deadline := time.Now().Add(150 * time.Second)
	for hsmtest.Object(soft.ListObjects(t, tok), label) != "" {
		require.True(t, time.Now().Before(deadline), "the key object is still in the token after the deletion window")
		time.Sleep(5 * time.Second)
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	var notFound *types.NotFoundException
	require.ErrorAs(t, err, &notFound)
	_, err = c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
	require.NoError(t, err)
	_, err = c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
	require.NoError(t, err, "the store's only key is gone")
}

// registerWithEnv registers the plugin again with env in its catalog
// entry and reloads the kms mount, so the plugin process runs with it.
func registerWithEnv(t *testing.T, v *vaultServer, env ...string) {
	t.Helper()
	sha, err := fileSHA256(filepath.Join(v.pluginDir, pluginName))
	require.NoError(t, err)
	require.NoError(t, v.client.Sys().RegisterPlugin(&api.RegisterPluginInput{
		Name: pluginName, Type: api.PluginTypeSecrets, Command: pluginName, SHA256: sha, Version: pluginVersion(), Env: env,
	}))
	_, err = v.client.Sys().ReloadPlugin(&api.ReloadPluginInput{Mounts: []string{"kms"}})
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := v.client.Logical().Read("kms/test/clock")
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "the reloaded plugin has its environment: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
}
