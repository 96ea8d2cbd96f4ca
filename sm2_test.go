package kms

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

func TestSM2Paths(t *testing.T) {
	tb := newTestBackend(t)
	signer := tb.createKey(map[string]any{"key_spec": "SM2"})
	md := tb.ok(logical.ReadOperation, "keys/"+signer, nil)
	require.Equal(t, []string{"SM2DSA"}, md["signing_algorithms"])
	pubDER := unb64(t, tb.ok(logical.ReadOperation, "keys/"+signer+"/public-key", nil)["public_key"])
	parsed, err := smx509.ParsePKIXPublicKey(pubDER)
	require.NoError(t, err)
	pub := parsed.(*ecdsa.PublicKey)

	sig := tb.ok(logical.UpdateOperation, "sign/"+signer, map[string]any{"message": b64s("m"), "signing_algorithm": "SM2DSA"})["signature"]
	require.True(t, sm2.VerifyASN1WithSM2(pub, nil, []byte("m"), unb64(t, sig)), "gmsm verifies with the default ID")
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "sign/"+signer, map[string]any{"message": b64s("m"), "signing_algorithm": "ECDSA_SHA_256"})
	tb.fails(kmserr.InvalidSignature, logical.UpdateOperation, "verify/"+signer, map[string]any{"message": b64s("n"), "signing_algorithm": "SM2DSA", "signature": sig})

	enc := tb.createKey(map[string]any{"key_spec": "SM2", "key_usage": "ENCRYPT_DECRYPT"})
	encPub, err := smx509.ParsePKIXPublicKey(unb64(t, tb.ok(logical.ReadOperation, "keys/"+enc+"/public-key", nil)["public_key"]))
	require.NoError(t, err)
	ct, err := sm2.EncryptASN1(rand.Reader, encPub.(*ecdsa.PublicKey), []byte("outside"))
	require.NoError(t, err)
	require.Equal(t, b64s("outside"), tb.ok(logical.UpdateOperation, "decrypt/"+enc, map[string]any{"ciphertext_blob": enc64(ct),
		"encryption_algorithm": "SM2PKE"})["plaintext"])
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encrypt/"+enc, map[string]any{"plaintext": b64s("x"), "encryption_algorithm": "RSAES_OAEP_SHA_256"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encrypt/"+enc, map[string]any{"plaintext": enc64(make([]byte, 1025)), "encryption_algorithm": "SM2PKE"})
	ct[len(ct)-1] ^= 1
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt/"+enc, map[string]any{"ciphertext_blob": enc64(ct), "encryption_algorithm": "SM2PKE"})

	// Key agreement on the SM2 curve with a peer gmsm generated.
	agree := tb.createKey(map[string]any{"key_spec": "SM2", "key_usage": "KEY_AGREEMENT"})
	peer, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	peerDER, err := smx509.MarshalPKIXPublicKey(&peer.PublicKey)
	require.NoError(t, err)
	secret := tb.ok(logical.UpdateOperation, "derive-shared-secret/"+agree, map[string]any{"public_key": enc64(peerDER)})["shared_secret"]
	ours, err := smx509.ParsePKIXPublicKey(unb64(t, tb.ok(logical.ReadOperation, "keys/"+agree+"/public-key", nil)["public_key"]))
	require.NoError(t, err)
	x, _ := sm2.P256().ScalarMult(ours.(*ecdsa.PublicKey).X, ours.(*ecdsa.PublicKey).Y, peer.D.Bytes())
	require.Equal(t, x.FillBytes(make([]byte, 32)), unb64(t, secret), "the peer computes the same x coordinate")

	// The SM2 wrapping key spec goes with SM2PKE only (and is
	// TestImportWrappedWithSM2's subject).
	ext := tb.createKey(map[string]any{"key_spec": "SM2", "origin": "EXTERNAL"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys/"+ext+"/import-parameters", map[string]any{"wrapping_key_spec": "SM2",
		"wrapping_algorithm": "RSAES_OAEP_SHA_256"})

	// SM2 data key pairs: PKCS#8 that gmsm reads.
	sym := tb.createKey(nil)
	pair := tb.ok(logical.UpdateOperation, "data-key-pair/plaintext/"+sym, map[string]any{"key_pair_spec": "SM2"})
	priv, err := smx509.ParsePKCS8PrivateKey(unb64(t, pair["private_key_plaintext"]))
	require.NoError(t, err)
	der, err := smx509.MarshalPKIXPublicKey(&priv.(*sm2.PrivateKey).PublicKey)
	require.NoError(t, err)
	require.Equal(t, der, unb64(t, pair["public_key"]))
}

func TestSM2ThroughTheAWSSDK(t *testing.T) {
	tb := newTestBackend(t)
	c := tb.sdkClient("")
	ctx := context.Background()
	created, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: types.KeyUsageTypeSignVerify})
	require.NoError(t, err)
	require.Equal(t, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecSm2dsa}, created.KeyMetadata.SigningAlgorithms)
	s, err := c.Sign(ctx, &awskms.SignInput{KeyId: created.KeyMetadata.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa})
	require.NoError(t, err)
	v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: created.KeyMetadata.KeyId, Message: []byte("m"), Signature: s.Signature,
		SigningAlgorithm: types.SigningAlgorithmSpecSm2dsa})
	require.NoError(t, err)
	require.True(t, v.SignatureValid)
	pub, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(aws.ToString(created.KeyMetadata.Arn))})
	require.NoError(t, err)
	require.Equal(t, types.KeySpecSm2, pub.KeySpec)
}
