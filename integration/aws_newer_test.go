package integration

import (
	"crypto/mlkem"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/stretchr/testify/require"
)

// The newest AWS KMS API through the AWS SDK for Go: DryRun and ML-KEM.

// DryRun through the SDK: its typed DryRunOperationException for a request
// that would succeed, the real call's exception otherwise, and no effect.
func TestAWSSDKDryRun(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	id := created.KeyMetadata.KeyId

	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	requireAPIError[*types.DryRunOperationException](t, err)
	usage, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: id})
	require.NoError(t, err)
	require.Empty(t, usage.KeyLastUsage.Operation, "a dry run is not key usage")
	require.Nil(t, usage.KeyLastUsage.Timestamp)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: id, Message: []byte("x"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
		DryRun: aws.Bool(true)})
	requireAPIError[*types.InvalidKeyUsageException](t, err)

	_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String("entity_name:nobody"),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}, DryRun: aws.Bool(true)})
	requireAPIError[*types.DryRunOperationException](t, err)
	grants, err := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: id})
	require.NoError(t, err)
	require.Empty(t, grants.Grants, "a dry-run grant is not stored")

	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id})
	require.NoError(t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	requireAPIError[*types.DisabledException](t, err)

	// The Vault-style paths: dry_run, HTTP 412.
	writeErr(t, "kms/encrypt/"+aws.ToString(id), map[string]any{"plaintext": "eA==", "dry_run": true}, 400, "DisabledException")
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id})
	require.NoError(t, err)
	writeErr(t, "kms/encrypt/"+aws.ToString(id), map[string]any{"plaintext": "eA==", "dry_run": true}, 412, "DryRunOperationException")
}

// ML-KEM through the SDK against a real Vault: Go's crypto/mlkem (768,
// 1024) and circl (512) encapsulate to the downloaded public key and the
// plugin decapsulates the same secret; the plugin's own encapsulation
// decapsulates on the Vault-style path; an ML-KEM data key pair's PKCS#8
// seed gives the standard library the returned public key.
func TestAWSSDKMLKEM(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	for _, spec := range []types.KeySpec{types.KeySpecMlKem512, types.KeySpecMlKem768, types.KeySpecMlKem1024} {
		t.Run(string(spec), func(t *testing.T) {
			created, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
			require.NoError(t, err)
			id := created.KeyMetadata.KeyId
			require.Equal(t, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}, created.KeyMetadata.EncapsulationAlgorithms)
			pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: id})
			require.NoError(t, err)
			var spki struct {
				Algorithm struct{ Algorithm asn1.ObjectIdentifier }
				PublicKey asn1.BitString
			}
			_, err = asn1.Unmarshal(pub.PublicKey, &spki)
			require.NoError(t, err)
			ek := spki.PublicKey.Bytes

			var secret, ct []byte
			switch spec {
			case types.KeySpecMlKem512:
				pk, err := mlkem512.Scheme().UnmarshalBinaryPublicKey(ek)
				require.NoError(t, err)
				ct, secret, err = mlkem512.Scheme().Encapsulate(pk)
				require.NoError(t, err)
			case types.KeySpecMlKem768:
				k, err := mlkem.NewEncapsulationKey768(ek)
				require.NoError(t, err)
				secret, ct = k.Encapsulate()
			default:
				k, err := mlkem.NewEncapsulationKey1024(ek)
				require.NoError(t, err)
				secret, ct = k.Encapsulate()
			}
			dec, err := c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: ct})
			require.NoError(t, err)
			require.Equal(t, secret, dec.SharedSecret, "the plugin decapsulates an outside encapsulation")

			enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			require.NoError(t, err)
			// The Vault-style path decapsulates what the AWS endpoint encapsulated.
			out := write(t, "kms/decapsulate/"+aws.ToString(id), map[string]any{
				"shared_secret_ciphertext_blob": base64.StdEncoding.EncodeToString(enc.SharedSecretCiphertextBlob)})
			require.Equal(t, base64.StdEncoding.EncodeToString(enc.SharedSecret), out.Data["shared_secret"])
		})
	}

	// Data key pair: the reverse direction with a private key in hand.
	sym, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	pair, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyMetadata.KeyId, KeyPairSpec: types.DataKeyPairSpecMlKem768})
	require.NoError(t, err)
	var p8 struct {
		Version    int
		Algo       struct{ Algorithm asn1.ObjectIdentifier }
		PrivateKey []byte
	}
	_, err = asn1.Unmarshal(pair.PrivateKeyPlaintext, &p8)
	require.NoError(t, err)
	require.Equal(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, p8.Algo.Algorithm, "id-alg-ml-kem-768")
	var seed asn1.RawValue
	_, err = asn1.Unmarshal(p8.PrivateKey, &seed)
	require.NoError(t, err)
	require.Equal(t, 0, seed.Tag, "the seed choice")
	dk, err := mlkem.NewDecapsulationKey768(seed.Bytes)
	require.NoError(t, err)
	var spki struct {
		Algorithm struct{ Algorithm asn1.ObjectIdentifier }
		PublicKey asn1.BitString
	}
	_, err = asn1.Unmarshal(pair.PublicKey, &spki)
	require.NoError(t, err)
	require.Equal(t, dk.EncapsulationKey().Bytes(), spki.PublicKey.Bytes, "the public key is the seed's")
}

// KmsRequestId in GetKeyLastUsage is the request.id of the request's entry
// in Vault's audit log.
func TestAWSSDKKmsRequestIdIsTheAuditEntry(t *testing.T) {
	ctx := t.Context()
	auditFile := filepath.Join(t.TempDir(), "audit.log")
	path := unique("kmsaudit")
	_, err := dev.client.Logical().Write("sys/audit/"+path, map[string]any{"type": "file", "options": map[string]any{"file_path": auditFile}})
	require.NoError(t, err)
	defer func() { _, _ = dev.client.Logical().Delete("sys/audit/" + path) }()

	c := awsClient("kms", dev.token)
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: created.KeyMetadata.KeyId, Plaintext: []byte("x")})
	require.NoError(t, err)
	usage, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: created.KeyMetadata.KeyId})
	require.NoError(t, err)
	require.Equal(t, types.KeyLastUsageTrackingOperationEncrypt, usage.KeyLastUsage.Operation)
	id := aws.ToString(usage.KeyLastUsage.KmsRequestId)
	require.NotEmpty(t, id)

	raw, err := os.ReadFile(auditFile)
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(raw), "\n") {
		var entry struct {
			Type    string
			Request struct{ ID, Path string }
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.ID == id {
			require.Equal(t, "kms/aws", entry.Request.Path)
			found = true
		}
	}
	require.True(t, found, "the audit log has the request %s", id)
}
