package integration

import (
	"crypto/rand"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// OpenSSL loads every data key pair's private key (PKCS#8 DER), derives the
// returned public key from it, and signs with it; the signature verifies
// with the returned public key. For RSA, OpenSSL also OAEP-encrypts to the
// returned public key and decrypts with the private key.
func TestDataKeyPairsWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	id := createKey(t, nil)
	ec := map[string]any{"purpose": "openssl"}
	msg := writeFile(t, dir, "msg", []byte("signed outside Vault"))
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"} {
		t.Run(spec, func(t *testing.T) {
			d := write(t, "kms/data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": spec, "encryption_context": ec}).Data
			privDER := writeFile(t, dir, spec+".der", unb64(t, d["private_key_plaintext"]))
			pubPEM := writeFile(t, dir, spec+".pub.pem", []byte(d["public_key_pem"].(string)))

			derived := openssl(t, "pkey", "-inform", "DER", "-in", privDER, "-pubout", "-outform", "DER")
			require.Equal(t, unb64(t, d["public_key"]), derived, "OpenSSL derives the returned public key")

			sig := filepath.Join(dir, spec+".sig")
			if spec == "ECC_NIST_EDWARDS25519" {
				openssl(t, "pkeyutl", "-sign", "-inkey", privDER, "-keyform", "DER", "-rawin", "-in", msg, "-out", sig)
				require.Contains(t, string(openssl(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-in", msg, "-sigfile", sig)), "Verified Successfully")
			} else {
				openssl(t, "dgst", "-sha256", "-keyform", "DER", "-sign", privDER, "-out", sig, msg)
				require.Contains(t, string(openssl(t, "dgst", "-sha256", "-verify", pubPEM, "-signature", sig, msg)), "Verified OK")
			}

			if strings.HasPrefix(spec, "RSA_") {
				pt := make([]byte, 64)
				_, _ = rand.Read(pt)
				in := writeFile(t, dir, spec+".pt", pt)
				ct := filepath.Join(dir, spec+".ct")
				openssl(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPEM, "-in", in, "-out", ct,
					"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
				got := openssl(t, "pkeyutl", "-decrypt", "-inkey", privDER, "-keyform", "DER", "-in", ct,
					"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
				require.Equal(t, pt, got)
			}

			// The wrapped private key opens through decrypt with the same
			// context only.
			dec := write(t, "kms/decrypt", map[string]any{"ciphertext_blob": d["private_key_ciphertext_blob"], "encryption_context": ec})
			require.Equal(t, d["private_key_plaintext"], dec.Data["plaintext"])
			writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": d["private_key_ciphertext_blob"], "encryption_context": map[string]any{"purpose": "other"}},
				http.StatusBadRequest, "InvalidCiphertextException")
		})
	}
}

func TestDataKeysOverHTTP(t *testing.T) {
	id := createKey(t, nil)
	ec := map[string]any{"table": "orders"}
	for spec, n := range map[string]int{"AES_128": 16, "AES_256": 32} {
		d := write(t, "kms/data-key/plaintext/"+id, map[string]any{"key_spec": spec, "encryption_context": ec}).Data
		require.Len(t, unb64(t, d["plaintext"]), n)
		dec := write(t, "kms/decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"], "encryption_context": ec})
		require.Equal(t, d["plaintext"], dec.Data["plaintext"])
	}
	w := write(t, "kms/data-key/wrapped/"+id, map[string]any{"number_of_bytes": 48}).Data
	require.NotContains(t, w, "plaintext")
	require.Len(t, unb64(t, write(t, "kms/decrypt", map[string]any{"ciphertext_blob": w["ciphertext_blob"]}).Data["plaintext"]), 48)
	wp := write(t, "kms/data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"}).Data
	require.NotContains(t, wp, "private_key_plaintext")

	writeErr(t, "kms/data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256", "number_of_bytes": 32}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/data-key/plaintext/"+id, map[string]any{}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/data-key/plaintext/"+id, map[string]any{"number_of_bytes": 2048}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ML_DSA_65"}, http.StatusBadRequest, "ValidationException")
	signer := createKey(t, map[string]any{"key_spec": "ECC_NIST_P256"})
	writeErr(t, "kms/data-key/plaintext/"+signer, map[string]any{"key_spec": "AES_256"}, http.StatusBadRequest, "InvalidKeyUsageException")
	rsa := createKey(t, map[string]any{"key_spec": "RSA_2048"})
	writeErr(t, "kms/data-key-pair/plaintext/"+rsa, map[string]any{"key_pair_spec": "RSA_2048"}, http.StatusBadRequest, "InvalidKeyUsageException")
	writeErr(t, "kms/data-key/plaintext/alias/"+unique("none"), map[string]any{"key_spec": "AES_256"}, http.StatusNotFound, "NotFoundException")
	write(t, "kms/keys/"+id+"/disable", nil)
	writeErr(t, "kms/data-key/wrapped/"+id, map[string]any{"key_spec": "AES_256"}, http.StatusBadRequest, "DisabledException")
	write(t, "kms/keys/"+id+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	writeErr(t, "kms/data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"}, http.StatusBadRequest, "KMSInvalidStateException")
}
