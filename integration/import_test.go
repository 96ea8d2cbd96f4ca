package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// wrapWithOpenSSL wraps material the way AWS's import guide does, with
// OpenSSL alone: pkeyutl OAEP for RSAES_OAEP_*, and for RSA_AES_KEY_WRAP_*
// an ephemeral AES-256 key wrapped by OAEP followed by the material
// wrapped with `openssl enc -id-aes256-wrap-pad`.
func wrapWithOpenSSL(t *testing.T, dir, pubDERb64, alg string, material []byte) []byte {
	t.Helper()
	pub := writeFile(t, dir, "wrapping.der", unb64(t, pubDERb64))
	in := writeFile(t, dir, "material", material)
	md := map[string]string{"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256", "RSA_AES_KEY_WRAP_SHA_1": "sha1", "RSA_AES_KEY_WRAP_SHA_256": "sha256"}[alg]
	oaep := func(file string) []byte {
		return openssl(t, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", file,
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	}
	if alg == "RSAES_OAEP_SHA_1" || alg == "RSAES_OAEP_SHA_256" {
		return oaep(in)
	}
	aesKey := make([]byte, 32)
	_, _ = rand.Read(aesKey)
	keyFile := writeFile(t, dir, "aes.key", aesKey)
	head := oaep(keyFile)
	tail := openssl(t, "enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aesKey), "-iv", "A65959A6", "-in", in)
	return append(head, tail...)
}

func importWithOpenSSL(t *testing.T, dir, id, alg string, material []byte) error {
	t.Helper()
	p := write(t, "kms/keys/"+id+"/import-parameters", map[string]any{"wrapping_key_spec": "RSA_3072", "wrapping_algorithm": alg}).Data
	wrapped := wrapWithOpenSSL(t, dir, p["public_key"].(string), alg, material)
	_, err := dev.client.Logical().Write("kms/keys/"+id+"/import", map[string]any{
		"encrypted_key_material": b64(wrapped), "import_token": p["import_token"]})
	return err
}

func TestImportWrappedByOpenSSL(t *testing.T) {
	dir := t.TempDir()
	algs := []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"}

	t.Run("symmetric", func(t *testing.T) {
		for _, alg := range algs {
			id := createKey(t, map[string]any{"origin": "EXTERNAL"})
			readErr(t, "kms/keys/"+id+"/public-key", http.StatusBadRequest, "UnsupportedOperationException")
			writeErr(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("x"))}, http.StatusBadRequest, "KMSInvalidStateException")
			material := openssl(t, "rand", "32")
			require.NoError(t, importWithOpenSSL(t, dir, id, alg, material), alg)
			blob := write(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte("byok"))}).Data["ciphertext_blob"]

			// Delete and re-import the same material: old ciphertext decrypts.
			_, err := dev.client.Logical().Delete("kms/keys/" + id + "/import")
			require.NoError(t, err)
			writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob}, http.StatusBadRequest, "KMSInvalidStateException")
			requireAWSError(t, importWithOpenSSL(t, dir, id, alg, openssl(t, "rand", "32")), http.StatusBadRequest, "IncorrectKeyMaterialException")
			require.NoError(t, importWithOpenSSL(t, dir, id, alg, material))
			require.Equal(t, "byok", string(unb64(t, write(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob}).Data["plaintext"])))
			// Imported keys rotate on demand only to new imported material
			// (TestAWSSDKSeveralKeyMaterials); there is none pending here.
			writeErr(t, "kms/keys/"+id+"/rotate", nil, http.StatusBadRequest, "KMSInvalidStateException")
		}
	})

	t.Run("hmac", func(t *testing.T) {
		id := createKey(t, map[string]any{"origin": "EXTERNAL", "key_spec": "HMAC_256"})
		material := openssl(t, "rand", "32")
		require.NoError(t, importWithOpenSSL(t, dir, id, "RSAES_OAEP_SHA_256", material))
		msg := []byte("mac me")
		mac := write(t, "kms/generate-mac/"+id, map[string]any{"message": b64(msg), "mac_algorithm": "HMAC_SHA_256"}).Data["mac"]
		// OpenSSL computes the same HMAC with the material it holds.
		want := openssl(t, "mac", "-digest", "SHA256", "-macopt", "hexkey:"+hex.EncodeToString(material), "-in", writeFile(t, dir, "msg", msg), "-binary", "HMAC")
		require.Equal(t, want, unb64(t, mac))
	})

	// Imported RSA and ECC keys sign; OpenSSL verifies with the original
	// public key it generated.
	for spec, gen := range map[string][]string{
		"RSA_2048":        {"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		"ECC_NIST_P256":   {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		"ECC_SECG_P256K1": {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"},
	} {
		t.Run(spec, func(t *testing.T) {
			priv := filepath.Join(dir, spec+".pem")
			openssl(t, append(gen, "-out", priv)...)
			pkcs8 := openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", priv, "-outform", "DER")
			pub := filepath.Join(dir, spec+".pub.pem")
			openssl(t, "pkey", "-in", priv, "-pubout", "-out", pub)
			id := createKey(t, map[string]any{"origin": "EXTERNAL", "key_spec": spec, "key_usage": "SIGN_VERIFY"})
			require.NoError(t, importWithOpenSSL(t, dir, id, "RSA_AES_KEY_WRAP_SHA_256", pkcs8))
			ours, err := os.ReadFile(publicKeyPEM(t, dir, id))
			require.NoError(t, err)
			theirs, err := os.ReadFile(pub)
			require.NoError(t, err)
			require.True(t, bytes.Equal(ours, theirs), "the imported key's public key is OpenSSL's")
			alg := map[string]string{"RSA_2048": "RSASSA_PSS_SHA_256", "ECC_NIST_P256": "ECDSA_SHA_256", "ECC_SECG_P256K1": "ECDSA_SHA_256"}[spec]
			msg := writeFile(t, dir, spec+".msg", []byte("signed by an imported key"))
			s := write(t, "kms/sign/"+id, map[string]any{"message": b64([]byte("signed by an imported key")), "signing_algorithm": alg})
			sig := writeFile(t, dir, spec+".sig", unb64(t, s.Data["signature"]))
			args := []string{"dgst", "-sha256", "-verify", pub, "-signature", sig}
			if spec == "RSA_2048" {
				args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
			}
			require.Contains(t, string(openssl(t, append(args, msg)...)), "Verified OK")
		})
	}

	t.Run("refusals", func(t *testing.T) {
		id := createKey(t, map[string]any{"origin": "EXTERNAL", "key_spec": "ECC_NIST_P384"})
		other := createKey(t, map[string]any{"origin": "EXTERNAL"})
		p := write(t, "kms/keys/"+other+"/import-parameters", map[string]any{"wrapping_algorithm": "RSAES_OAEP_SHA_256"}).Data
		wrapped := wrapWithOpenSSL(t, dir, p["public_key"].(string), "RSAES_OAEP_SHA_256", openssl(t, "rand", "32"))
		writeErr(t, "kms/keys/"+id+"/import", map[string]any{"encrypted_key_material": b64(wrapped), "import_token": p["import_token"]},
			http.StatusBadRequest, "InvalidImportTokenException")
		// P-256 material for a P-384 key.
		priv := filepath.Join(dir, "p256.pem")
		openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", priv)
		requireAWSError(t, importWithOpenSSL(t, dir, id, "RSA_AES_KEY_WRAP_SHA_1", openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", priv, "-outform", "DER")),
			http.StatusBadRequest, "IncorrectKeyMaterialException")
		native := createKey(t, nil)
		writeErr(t, "kms/keys/"+native+"/import-parameters", nil, http.StatusBadRequest, "UnsupportedOperationException")
	})
}

// Rotation through Vault: several on-demand rotations, old ciphertexts
// keep decrypting, re-encrypt moves them to the newest version.
func TestRotationOverHTTP(t *testing.T) {
	id := createKey(t, nil)
	st := write(t, "kms/keys/"+id+"/rotation", map[string]any{"rotation_period_days": 180}).Data
	require.Equal(t, true, st["key_rotation_enabled"])
	var blobs []any
	for i := range 4 {
		blobs = append(blobs, write(t, "kms/encrypt/"+id, map[string]any{"plaintext": b64([]byte{byte(i)})}).Data["ciphertext_blob"])
		write(t, "kms/keys/"+id+"/rotate", nil)
	}
	for i, b := range blobs {
		require.Equal(t, []byte{byte(i)}, unb64(t, write(t, "kms/decrypt", map[string]any{"ciphertext_blob": b}).Data["plaintext"]))
	}
	rot, err := dev.client.Logical().List("kms/keys/" + id + "/rotations")
	require.NoError(t, err)
	require.Len(t, rot.Data["keys"], 4)
	require.Equal(t, json.Number("5"), read(t, "kms/keys/"+id).Data["current_key_version"])
	writeErr(t, "kms/keys/"+id+"/rotation", map[string]any{"rotation_period_days": 30}, http.StatusBadRequest, "ValidationException")
	rsa := createKey(t, map[string]any{"key_spec": "RSA_2048"})
	writeErr(t, "kms/keys/"+rsa+"/rotate", nil, http.StatusBadRequest, "UnsupportedOperationException")
	d := read(t, "kms/keys/"+id).Data
	require.Equal(t, "Decrypt", d["last_used_operation"])
}
