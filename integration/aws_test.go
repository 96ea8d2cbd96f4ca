package integration

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/openkms/vault-plugin-kms/awsvault"
	"github.com/stretchr/testify/require"
)

// The AWS SDK for Go v2, unchanged but for its endpoint and the awsvault
// middleware that adds the Vault token, drives the plugin's AWS protocol.

func awsClient(mount, token string, extra ...func(*middleware.Stack) error) *kms.Client {
	return kms.New(kms.Options{
		BaseEndpoint:     aws.String(awsvault.Endpoint("http://"+dev.addr, mount)),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("unused", "unused", ""),
		RetryMaxAttempts: 1,
		APIOptions:       append([]func(*middleware.Stack) error{awsvault.Token(token)}, extra...),
	})
}

// requireAPIError asserts the SDK raised the typed exception T.
func requireAPIError[T error](t *testing.T, err error) T {
	t.Helper()
	var typed T
	require.Error(t, err)
	require.True(t, errors.As(err, &typed), "want %T, got %v", typed, err)
	return typed
}

// requireErrorCode asserts an AWS error code. The SDK models no type for
// AccessDeniedException (a common error of every AWS service), so it
// surfaces as a smithy.APIError with that code, as with AWS itself.
func requireErrorCode(t *testing.T, err error, code string) smithy.APIError {
	t.Helper()
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr), "want %s, got %v", code, err)
	require.Equal(t, code, apiErr.ErrorCode(), apiErr.ErrorMessage())
	return apiErr
}

func TestAWSSDKKeysAliasesTags(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sdk"), KeySpec: types.KeySpecEccNistP256,
		KeyUsage: types.KeyUsageTypeSignVerify, Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("payments")}}})
	require.NoError(t, err)
	md := created.KeyMetadata
	id := aws.ToString(md.KeyId)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+id, aws.ToString(md.Arn))
	require.Equal(t, types.KeyStateEnabled, md.KeyState)
	require.Equal(t, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}, md.SigningAlgorithms)
	require.WithinDuration(t, time.Now(), aws.ToTime(md.CreationDate), time.Minute, "CreationDate is epoch seconds")

	// The key is the same key on the Vault-style paths.
	require.Equal(t, "sdk", read(t, "kms/keys/"+id).Data["description"])

	_, err = c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: md.Arn, Description: aws.String("renamed")})
	require.NoError(t, err)
	alias := "alias/" + unique("sdk")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)})
	requireAPIError[*types.AlreadyExistsException](t, err)
	for _, ref := range []string{alias, "arn:aws:kms:us-east-1:000000000000:" + alias, id, aws.ToString(md.Arn)} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		require.NoError(t, err, ref)
		require.Equal(t, "renamed", aws.ToString(d.KeyMetadata.Description))
	}
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	require.Len(t, aliases.Aliases, 1)
	require.Equal(t, alias, aws.ToString(aliases.Aliases[0].AliasName))
	other, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	require.NoError(t, err)
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: other.KeyMetadata.KeyId})
	require.NoError(t, err)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(other.KeyMetadata.KeyId), aws.ToString(d.KeyMetadata.KeyId))
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(alias)})
	require.NoError(t, err)
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	requireAPIError[*types.NotFoundException](t, err)

	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}}})
	require.NoError(t, err)
	_, err = c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"team"}})
	require.NoError(t, err)
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	require.Len(t, tags.Tags, 1)
	require.Equal(t, "env", aws.ToString(tags.Tags[0].TagKey))

	// Paging through every key with the SDK's own paginator.
	seen := map[string]bool{}
	pages := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(1)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Keys), 1)
		for _, k := range p.Keys {
			seen[aws.ToString(k.KeyId)] = true
		}
	}
	require.True(t, seen[id] && seen[aws.ToString(other.KeyMetadata.KeyId)])

	// Key states, with the SDK's typed exceptions.
	msg := []byte("message")
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	requireAPIError[*types.DisabledException](t, err)
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	sched, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	require.NoError(t, err)
	require.Equal(t, types.KeyStatePendingDeletion, sched.KeyState)
	require.WithinDuration(t, time.Now().Add(7*24*time.Hour), aws.ToTime(sched.DeletionDate), time.Minute)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	requireAPIError[*types.KMSInvalidStateException](t, err)
	cancel, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(md.Arn), aws.ToString(cancel.KeyId))
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
	requireAPIError[*types.NotFoundException](t, err)
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String("cks-1")})
	requireAPIError[*types.CustomKeyStoreNotFoundException](t, err)
}

func TestAWSSDKCrypto(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	newKey := func(spec types.KeySpec, usage types.KeyUsageType) string {
		t.Helper()
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
		require.NoError(t, err)
		return aws.ToString(out.KeyMetadata.KeyId)
	}
	sym := newKey(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	ec := map[string]string{"tenant": "acme"}

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(sym), Plaintext: []byte("hello"), EncryptionContext: ec})
	require.NoError(t, err)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	require.Equal(t, "hello", string(dec.Plaintext))
	require.Equal(t, aws.ToString(enc.KeyId), aws.ToString(dec.KeyId))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	requireAPIError[*types.InvalidCiphertextException](t, err)

	// Ciphertext crosses between the AWS endpoint and the Vault-style paths.
	vault := write(t, "kms/decrypt", map[string]any{"ciphertext_blob": base64.StdEncoding.EncodeToString(enc.CiphertextBlob),
		"encryption_context": map[string]any{"tenant": "acme"}})
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("hello")), vault.Data["plaintext"])
	blob := write(t, "kms/encrypt/"+sym, map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte("from vault"))}).Data["ciphertext_blob"].(string)
	raw, err := base64.StdEncoding.DecodeString(blob)
	require.NoError(t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: raw})
	require.NoError(t, err)
	require.Equal(t, "from vault", string(dec.Plaintext))

	sym2 := newKey(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String(sym2), DestinationEncryptionContext: map[string]string{"tenant": "other"}})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(enc.KeyId), aws.ToString(re.SourceKeyId))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, KeyId: aws.String(sym), EncryptionContext: map[string]string{"tenant": "other"}})
	requireAPIError[*types.IncorrectKeyException](t, err)

	// Signing: the SDK's signature verifies locally and in the plugin.
	signer := newKey(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(signer), Message: []byte("pay 10"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	require.NoError(t, err)
	pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(signer)})
	require.NoError(t, err)
	require.Equal(t, types.KeySpecEccNistP256, pub.KeySpec)
	parsed, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("pay 10"))
	require.True(t, ecdsa.VerifyASN1(parsed.(*ecdsa.PublicKey), digest[:], sig.Signature))
	v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(signer), Message: digest[:], MessageType: types.MessageTypeDigest,
		Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	require.NoError(t, err)
	require.True(t, v.SignatureValid)
	_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(signer), Message: []byte("pay 1000"), Signature: sig.Signature,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	requireAPIError[*types.KMSInvalidSignatureException](t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(signer), Plaintext: []byte("x")})
	requireAPIError[*types.InvalidKeyUsageException](t, err)
	_, err = c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(sym)})
	requireAPIError[*types.UnsupportedOperationException](t, err)

	// RSA encryption: the SDK's public key encrypts, the plugin decrypts.
	rsaKey := newKey(types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rpub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(rsaKey)})
	require.NoError(t, err)
	rp, err := x509.ParsePKIXPublicKey(rpub.PublicKey)
	require.NoError(t, err)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rp.(*rsa.PublicKey), []byte("oaep"), nil)
	require.NoError(t, err)
	rdec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(rsaKey), CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	require.NoError(t, err)
	require.Equal(t, "oaep", string(rdec.Plaintext))

	// MACs.
	hmacKey := newKey(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(hmacKey), Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	require.NoError(t, err)
	vm, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(hmacKey), Message: []byte("m"), Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	require.NoError(t, err)
	require.True(t, vm.MacValid)
	_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(hmacKey), Message: []byte("n"), Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	requireAPIError[*types.KMSInvalidMacException](t, err)

	// ECDH: the SDK's shared secret equals the one computed locally.
	agree := newKey(types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	apub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(agree)})
	require.NoError(t, err)
	mine, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	mineDER, err := x509.MarshalPKIXPublicKey(mine.PublicKey())
	require.NoError(t, err)
	shared, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: aws.String(agree), PublicKey: mineDER,
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh})
	require.NoError(t, err)
	theirs, err := x509.ParsePKIXPublicKey(apub.PublicKey)
	require.NoError(t, err)
	theirsECDH, err := theirs.(*ecdsa.PublicKey).ECDH()
	require.NoError(t, err)
	want, err := mine.ECDH(theirsECDH)
	require.NoError(t, err)
	require.Equal(t, want, shared.SharedSecret)

	usage, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(agree)})
	require.NoError(t, err)
	require.Equal(t, types.KeyLastUsageTrackingOperationDeriveSharedSecret, usage.KeyLastUsage.Operation)
	require.WithinDuration(t, time.Now(), aws.ToTime(usage.KeyLastUsage.Timestamp), time.Minute)
	require.False(t, aws.ToTime(usage.TrackingStartDate).After(aws.ToTime(usage.KeyLastUsage.Timestamp)))

	random, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(48)})
	require.NoError(t, err)
	require.Len(t, random.Plaintext, 48)

	// Data key pairs: the private key opens with Decrypt and matches the public key.
	pair, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	require.NoError(t, err)
	priv, err := x509.ParsePKCS8PrivateKey(pair.PrivateKeyPlaintext)
	require.NoError(t, err)
	pairPub, err := x509.MarshalPKIXPublicKey(priv.(*ecdsa.PrivateKey).Public())
	require.NoError(t, err)
	require.Equal(t, pair.PublicKey, pairPub)
	opened, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: pair.PrivateKeyCiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, pair.PrivateKeyPlaintext, opened.Plaintext)
	wp, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecRsa2048})
	require.NoError(t, err)
	require.Equal(t, types.DataKeyPairSpecRsa2048, wp.KeyPairSpec)
	require.NotEmpty(t, wp.PrivateKeyCiphertextBlob)
}

// TestAWSSDKEnvelopeEncryption is envelope encryption written the way an
// AWS user writes it: a data key per object, the object sealed locally,
// only the wrapped data key stored beside it.
func TestAWSSDKEnvelopeEncryption(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("envelope")})
	require.NoError(t, err)
	alias := "alias/" + unique("envelope")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId})
	require.NoError(t, err)

	type stored struct{ wrappedKey, nonce, sealed []byte }
	ec := map[string]string{"object": "invoice-42"}
	seal := func(plaintext []byte) stored {
		dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(alias), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
		require.NoError(t, err)
		block, err := aes.NewCipher(dk.Plaintext)
		require.NoError(t, err)
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		nonce := make([]byte, gcm.NonceSize())
		_, err = rand.Read(nonce)
		require.NoError(t, err)
		clear(dk.Plaintext) // the plaintext key is dropped right after use
		return stored{wrappedKey: dk.CiphertextBlob, nonce: nonce, sealed: gcm.Seal(nil, nonce, plaintext, nil)}
	}
	open := func(s stored) []byte {
		dk, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: s.wrappedKey, EncryptionContext: ec})
		require.NoError(t, err)
		block, err := aes.NewCipher(dk.Plaintext)
		require.NoError(t, err)
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		pt, err := gcm.Open(nil, s.nonce, s.sealed, nil)
		require.NoError(t, err)
		return pt
	}
	s := seal([]byte("total: 42 EUR"))
	require.Equal(t, "total: 42 EUR", string(open(s)))

	// A wrapped key made without plaintext opens the same way.
	wrapped, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(alias),
		NumberOfBytes: aws.Int32(32), EncryptionContext: ec})
	require.NoError(t, err)
	dk, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	require.Len(t, dk.Plaintext, 32)
}

func TestAWSSDKRotationAndImport(t *testing.T) {
	ctx := t.Context()
	c := awsClient("kms", dev.token)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	id := key.KeyMetadata.KeyId
	old, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("v1")})
	require.NoError(t, err)

	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(90)})
	require.NoError(t, err)
	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	require.NoError(t, err)
	require.True(t, st.KeyRotationEnabled)
	require.Equal(t, int32(90), aws.ToInt32(st.RotationPeriodInDays))
	require.WithinDuration(t, time.Now().Add(90*24*time.Hour), aws.ToTime(st.NextRotationDate), time.Minute)
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id})
	require.NoError(t, err)
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id})
	require.NoError(t, err)
	require.Len(t, rot.Rotations, 1)
	require.Equal(t, types.RotationTypeOnDemand, rot.Rotations[0].RotationType)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old.CiphertextBlob})
	require.NoError(t, err, "ciphertext of the first material decrypts after a rotation")
	require.Equal(t, "v1", string(dec.Plaintext))
	_, err = c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: id})
	require.NoError(t, err)
	st, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	require.NoError(t, err)
	require.False(t, st.KeyRotationEnabled)

	// Import: the SDK's import token and wrapping key, material wrapped locally.
	ext, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	require.NoError(t, err)
	extID := ext.KeyMetadata.KeyId
	require.Equal(t, types.KeyStatePendingImport, ext.KeyMetadata.KeyState)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: extID, Plaintext: []byte("x")})
	requireAPIError[*types.KMSInvalidStateException](t, err)
	params, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: extID,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), aws.ToTime(params.ParametersValidTo), time.Minute)
	wrapPub, err := x509.ParsePKIXPublicKey(params.PublicKey)
	require.NoError(t, err)
	material := make([]byte, 32)
	_, err = rand.Read(material)
	require.NoError(t, err)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, wrapPub.(*rsa.PublicKey), material, nil)
	require.NoError(t, err)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: extID, ImportToken: []byte("forged"), EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	requireAPIError[*types.InvalidImportTokenException](t, err)
	validTo := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: extID, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)})
	require.NoError(t, err)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: extID})
	require.NoError(t, err)
	require.Equal(t, types.KeyStateEnabled, d.KeyMetadata.KeyState)
	require.Equal(t, validTo.UTC(), aws.ToTime(d.KeyMetadata.ValidTo).UTC())
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: extID, Plaintext: []byte("imported")})
	require.NoError(t, err)
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: extID})
	requireAPIError[*types.UnsupportedOperationException](t, err)
	_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: extID})
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	requireAPIError[*types.KMSInvalidStateException](t, err)
}

// TestAWSExampleProgram runs the README's complete example program, as a
// user would, against the dev Vault.
func TestAWSExampleProgram(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "run", "./examples/aws-sdk-go")
	cmd.Dir = filepath.Dir(filepath.Dir(self))
	cmd.Env = append(os.Environ(), "VAULT_ADDR=http://"+dev.addr, "VAULT_TOKEN="+dev.token, "KMS_MOUNT=kms")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "key: arn:aws:kms:us-east-1:000000000000:key/")
	require.Contains(t, string(out), "decrypted: total: 42 EUR")
	require.Contains(t, string(out), "without the context: true")
}
