package integration

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"
)

// Several key materials per imported key through the AWS SDK for Go, with
// the material wrapped by OpenSSL: a second material waits
// (PENDING_ROTATION), RotateKeyOnDemand makes it current, the first keeps
// decrypting, and deleting one material by id leaves the other usable.
func TestAWSSDKSeveralKeyMaterials(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	dir := t.TempDir()
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	require.NoError(t, err)
	id := created.KeyMetadata.KeyId

	importSDK := func(material []byte, in kms.ImportKeyMaterialInput) (*kms.ImportKeyMaterialOutput, error) {
		p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: id,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa3072})
		require.NoError(t, err)
		in.KeyId, in.ImportToken = id, p.ImportToken
		in.EncryptedKeyMaterial = wrapWithOpenSSL(t, dir, b64(p.PublicKey), "RSAES_OAEP_SHA_256", material)
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialDoesNotExpire
		return c.ImportKeyMaterial(ctx, &in)
	}
	m1, m2 := openssl(t, "rand", "32"), openssl(t, "rand", "32")
	first, err := importSDK(m1, kms.ImportKeyMaterialInput{})
	require.NoError(t, err)
	id1 := aws.ToString(first.KeyMaterialId)
	require.Len(t, id1, 64)
	ct1, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("one")})
	require.NoError(t, err)

	second, err := importSDK(m2, kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial,
		KeyMaterialDescription: aws.String("second")})
	require.NoError(t, err)
	id2 := aws.ToString(second.KeyMaterialId)
	_, err = importSDK(m2, kms.ImportKeyMaterialInput{ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(id1)})
	requireAPIError[*types.IncorrectKeyMaterialException](t, err)

	all, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	require.NoError(t, err)
	states := map[string]types.RotationsListEntry{}
	for _, r := range all.Rotations {
		states[aws.ToString(r.KeyMaterialId)] = r
	}
	require.Equal(t, types.KeyMaterialStateCurrent, states[id1].KeyMaterialState)
	require.Equal(t, types.KeyMaterialStatePendingRotation, states[id2].KeyMaterialState)
	require.Equal(t, types.ImportStateImported, states[id2].ImportState)
	require.Equal(t, "second", aws.ToString(states[id2].KeyMaterialDescription))

	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id})
	require.NoError(t, err)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	require.NoError(t, err)
	require.Equal(t, id2, aws.ToString(d.KeyMetadata.CurrentKeyMaterialId))
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id})
	require.NoError(t, err)
	require.Len(t, rot.Rotations, 1)
	require.Equal(t, types.RotationTypeOnDemand, rot.Rotations[0].RotationType)
	require.NotNil(t, rot.Rotations[0].RotationDate)

	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct1.CiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, "one", string(dec.Plaintext))
	require.Equal(t, id1, aws.ToString(dec.KeyMaterialId))
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: ct1.CiphertextBlob, DestinationKeyId: id})
	require.NoError(t, err)
	require.Equal(t, id1, aws.ToString(re.SourceKeyMaterialId))
	require.Equal(t, id2, aws.ToString(re.DestinationKeyMaterialId))
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)
	require.Equal(t, id2, aws.ToString(dk.KeyMaterialId))
	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	require.NoError(t, err)
	require.False(t, st.KeyRotationEnabled)
	require.Nil(t, st.OnDemandRotationStartDate, "rotation completes within the request")

	// Delete the older material by id: the key stays Enabled, the newer
	// material's ciphertext still decrypts, the older one's does not.
	del, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: id, KeyMaterialId: aws.String(id1)})
	require.NoError(t, err)
	require.Equal(t, id1, aws.ToString(del.KeyMaterialId))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct1.CiphertextBlob})
	requireAPIError[*types.InvalidCiphertextException](t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, "one", string(dec.Plaintext))
	d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	require.NoError(t, err)
	require.Equal(t, types.KeyStateEnabled, d.KeyMetadata.KeyState)
	// The same material comes back under its id.
	_, err = importSDK(m1, kms.ImportKeyMaterialInput{ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(id1)})
	require.NoError(t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct1.CiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, "one", string(dec.Plaintext))

	// The Vault-style path takes key_material_id on DELETE as a query
	// parameter (vault delete kms/keys/<key>/import key_material_id=...).
	_, err = dev.client.Logical().DeleteWithData("kms/keys/"+aws.ToString(id)+"/import", map[string][]string{"key_material_id": {id1}})
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct1.CiphertextBlob})
	requireAPIError[*types.InvalidCiphertextException](t, err)
	all, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	require.NoError(t, err)
	for _, r := range all.Rotations {
		want := types.ImportStateImported
		if aws.ToString(r.KeyMaterialId) == id1 {
			want = types.ImportStatePendingImport
		}
		require.Equal(t, want, r.ImportState, aws.ToString(r.KeyMaterialId))
	}
}

// The SM2 wrapping key spec with OpenSSL 3 as the wrapper: `openssl
// pkeyutl -encrypt` with the downloaded SM2 wrapping key (GB/T 32918.4
// ASN.1 ciphertext) imports, and the key then encrypts and decrypts.
func TestImportWrappedByOpenSSLSM2(t *testing.T) {
	dir := t.TempDir()
	id := write(t, "kms/keys", map[string]any{"origin": "EXTERNAL"}).Data["key_id"].(string)
	p := write(t, "kms/keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "SM2", "wrapping_algorithm": "SM2PKE"}).Data
	pub := writeFile(t, dir, "wrapping.der", unb64(t, p["public_key"]))
	material := openssl(t, "rand", "32")
	wrapped := openssl(t, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", writeFile(t, dir, "material", material))
	resp := write(t, "kms/keys/"+id+"/import", map[string]any{"encrypted_key_material": b64(wrapped), "import_token": p["import_token"]})
	require.Len(t, resp.Data["key_material_id"], 64)
	blob := write(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("sm2-wrapped"))}).Data["ciphertext_blob"]
	require.Equal(t, "sm2-wrapped", string(unb64(t, write(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob}).Data["plaintext"])))
	writeErr(t, "kms/keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "SM2", "wrapping_algorithm": "RSAES_OAEP_SHA_256"}, 400, "ValidationException")
}
