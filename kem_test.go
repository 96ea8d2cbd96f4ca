package kms

import (
	"context"
	"crypto/mlkem"
	"encoding/asn1"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	circl512 "github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// rawPublicKey takes the ML-KEM encapsulation key out of a SubjectPublicKeyInfo.
func rawPublicKey(t *testing.T, der []byte) []byte {
	var spki struct {
		Algorithm struct{ Algorithm asn1.ObjectIdentifier }
		PublicKey asn1.BitString
	}
	_, err := asn1.Unmarshal(der, &spki)
	require.NoError(t, err)
	return spki.PublicKey.Bytes
}

func TestKEMPaths(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(map[string]any{"key_spec": "ML_KEM_768"})
	md := tb.ok(logical.ReadOperation, "keys/"+id, nil)
	require.EqualValues(t, "ENCAPSULATE_DECAPSULATE", md["key_usage"], "the spec's only usage is its default")
	require.Equal(t, []string{"ML_KEM"}, md["encapsulation_algorithms"])
	pub := tb.ok(logical.ReadOperation, "keys/"+id+"/public-key", nil)
	require.Equal(t, []string{"ML_KEM"}, pub["encapsulation_algorithms"])

	// Go's crypto/mlkem encapsulates to the downloaded public key; the
	// plugin decapsulates the same secret.
	ek, err := mlkem.NewEncapsulationKey768(rawPublicKey(t, unb64(t, pub["public_key"])))
	require.NoError(t, err)
	secret, ct := ek.Encapsulate()
	out := tb.ok(logical.UpdateOperation, "decapsulate/"+id, map[string]any{"shared_secret_ciphertext_blob": enc64(ct)})
	require.Equal(t, enc64(secret), out["shared_secret"])
	require.Equal(t, "ML_KEM", out["encapsulation_algorithm"])

	// The plugin encapsulates; it decapsulates the same secret, in a batch.
	e1 := tb.ok(logical.UpdateOperation, "encapsulate/"+id, nil)
	e2 := tb.ok(logical.UpdateOperation, "encapsulate/"+id, map[string]any{"encapsulation_algorithm": "ML_KEM"})
	require.Len(t, unb64(t, e1["shared_secret"]), 32)
	require.Len(t, unb64(t, e1["shared_secret_ciphertext_blob"]), 1088)
	require.NotEqual(t, e1["shared_secret"], e2["shared_secret"])
	res := tb.ok(logical.UpdateOperation, "decapsulate/"+id, map[string]any{"batch_input": []any{
		map[string]any{"shared_secret_ciphertext_blob": e1["shared_secret_ciphertext_blob"]},
		map[string]any{"shared_secret_ciphertext_blob": e2["shared_secret_ciphertext_blob"]},
		map[string]any{"shared_secret_ciphertext_blob": b64s("short")},
	}})["batch_results"].([]map[string]any)
	require.Equal(t, e1["shared_secret"], res[0]["shared_secret"])
	require.Equal(t, e2["shared_secret"], res[1]["shared_secret"])
	require.Equal(t, kmserr.InvalidCiphertext, res[2]["error_type"])
	require.Equal(t, "Decapsulate", tb.ok(logical.ReadOperation, "keys/"+id+"/last-usage", nil)["last_used_operation"])

	// Refusals: algorithm, usage, state, import.
	tb.fails(kmserr.Validation, logical.UpdateOperation, "encapsulate/"+id, map[string]any{"encapsulation_algorithm": "ML_KEM_768"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "encapsulate/"+tb.createKey(nil), nil)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "keys", map[string]any{"key_spec": "ML_KEM_512", "key_usage": "ENCRYPT_DECRYPT"})
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys", map[string]any{"key_spec": "ML_KEM_512", "origin": "EXTERNAL"})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "decapsulate/"+id, map[string]any{"shared_secret_ciphertext_blob": enc64(ct)})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/enable", nil)
	tb.fails(kmserr.DryRunOperation, logical.UpdateOperation, "encapsulate/"+id, map[string]any{"dry_run": true})

}

func TestKEMAuthorization(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")},
		map[string]any{"Sid": "enc", "Effect": "Allow", "Principal": principals("group:payments"), "Action": actions("Encapsulate")},
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"key_spec": "ML_KEM_1024", "policy": doc})["key_id"].(string)
	e := tb.asOK("alice", logical.UpdateOperation, "encapsulate/"+id, nil)
	blob := map[string]any{"shared_secret_ciphertext_blob": e["shared_secret_ciphertext_blob"]}
	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "decapsulate/"+id, blob)
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "encapsulate/"+id, nil)
	// A grant for Decapsulate lets bob decapsulate.
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Decapsulate"})
	require.Equal(t, e["shared_secret"], tb.asOK("bob", logical.UpdateOperation, "decapsulate/"+id, blob)["shared_secret"])
	// A grant for an operation the key cannot do does not fit it.
	tb.asFails(kmserr.Validation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt"})
}

// ML-KEM data key pairs: PKCS#8 in seed form, as AWS returns them.
func TestKEMDataKeyPairs(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	for _, spec := range []string{"ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"} {
		out := tb.ok(logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": spec})
		gotSpec, seed, err := keyspec.ParseMLKEMPKCS8(unb64(t, out["private_key_plaintext"]))
		require.NoError(t, err)
		require.Equal(t, spec, gotSpec)
		// The wrapped private key decrypts to the same bytes.
		pt := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": out["private_key_ciphertext_blob"]})["plaintext"]
		require.Equal(t, out["private_key_plaintext"], pt)
		// The public key is the seed's, derived by an outside library.
		var ek []byte
		switch spec {
		case "ML_KEM_512":
			pk, _ := circl512.NewKeyFromSeed(seed)
			ek = make([]byte, circl512.PublicKeySize)
			pk.Pack(ek)
		case "ML_KEM_768":
			dk, err := mlkem.NewDecapsulationKey768(seed)
			require.NoError(t, err)
			ek = dk.EncapsulationKey().Bytes()
		default:
			dk, err := mlkem.NewDecapsulationKey1024(seed)
			require.NoError(t, err)
			ek = dk.EncapsulationKey().Bytes()
		}
		require.Equal(t, ek, rawPublicKey(t, unb64(t, out["public_key"])), spec)
	}
}

func TestKEMThroughTheAWSSDK(t *testing.T) {
	tb := newTestBackend(t)
	c := tb.sdkClient("")
	ctx := context.Background()
	created, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecMlKem512, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
	require.NoError(t, err)
	require.Equal(t, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}, created.KeyMetadata.EncapsulationAlgorithms)
	id := created.KeyMetadata.KeyId
	pub, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: id})
	require.NoError(t, err)
	require.Equal(t, types.KeyUsageTypeEncapsulateDecapsulate, pub.KeyUsage)
	require.Equal(t, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}, pub.EncapsulationAlgorithms)

	// circl encapsulates to the downloaded public key (ML-KEM-512 is not in
	// the standard library); the plugin decapsulates.
	pk, err := circl512.Scheme().UnmarshalBinaryPublicKey(rawPublicKey(t, pub.PublicKey))
	require.NoError(t, err)
	ct, secret, err := circl512.Scheme().Encapsulate(pk)
	require.NoError(t, err)
	dec, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: ct})
	require.NoError(t, err)
	require.Equal(t, secret, dec.SharedSecret)
	require.Equal(t, types.EncapsulationAlgorithmSpecMlKem, dec.EncapsulationAlgorithm)

	enc, err := c.Encapsulate(ctx, &awskms.EncapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	require.NoError(t, err)
	require.Len(t, enc.SharedSecretCiphertextBlob, 768)
	require.Equal(t, "arn:aws:kms:us-east-1:000000000000:key/"+aws.ToString(id), aws.ToString(enc.KeyId))
	dec, err = c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
	require.NoError(t, err)
	require.Equal(t, enc.SharedSecret, dec.SharedSecret)

	_, err = c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: []byte("short")})
	var bad *types.InvalidCiphertextException
	require.ErrorAs(t, err, &bad)
	_, err = c.Encapsulate(ctx, &awskms.EncapsulateInput{KeyId: id, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, DryRun: aws.Bool(true)})
	var dry *types.DryRunOperationException
	require.ErrorAs(t, err, &dry)
}
