package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// SM2 against OpenSSL 3: OpenSSL verifies the plugin's SM2DSA signatures
// (SM3 with the default distinguishing ID) and the plugin verifies
// OpenSSL's; SM2PKE ciphertext (GB/T 32918.4 ASN.1) decrypts both ways.
func TestSM2WithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	distid := "distid:1234567812345678"
	msgText := []byte("pay 10 yuan")
	msg := writeFile(t, dir, "msg", msgText)

	// A key the plugin generated: OpenSSL verifies its signature with the
	// downloaded public key, and encrypts to it.
	id := createKey(t, map[string]any{"key_spec": "SM2", "key_usage": "SIGN_VERIFY"})
	pub := publicKeyPEM(t, dir, id)
	s := write(t, "kms/sign/"+id, map[string]any{"message": b64(msgText), "signing_algorithm": "SM2DSA"})
	sig := writeFile(t, dir, "plugin.sig", unb64(t, s.Data["signature"]))
	require.Contains(t, string(openssl(t, "dgst", "-sm3", "-verify", pub, "-sigopt", distid, "-signature", sig, msg)), "Verified OK")

	enc := createKey(t, map[string]any{"key_spec": "SM2", "key_usage": "ENCRYPT_DECRYPT"})
	ct := openssl(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", publicKeyPEM(t, dir, enc), "-in", msg)
	pt := write(t, "kms/decrypt/"+enc, map[string]any{"ciphertext_blob": b64(ct), "encryption_algorithm": "SM2PKE"}).Data["plaintext"]
	require.Equal(t, msgText, unb64(t, pt), "the plugin decrypts OpenSSL's SM2 ciphertext")

	// OpenSSL's own key, imported: the plugin verifies OpenSSL's signature,
	// and OpenSSL decrypts the plugin's ciphertext.
	priv := filepath.Join(dir, "sm2.pem")
	openssl(t, "genpkey", "-algorithm", "SM2", "-out", priv)
	pkcs8 := openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", priv, "-outform", "DER")
	theirPub := filepath.Join(dir, "sm2.pub.pem")
	openssl(t, "pkey", "-in", priv, "-pubout", "-out", theirPub)
	for _, usage := range []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT"} {
		imported := createKey(t, map[string]any{"origin": "EXTERNAL", "key_spec": "SM2", "key_usage": usage})
		require.NoError(t, importWithOpenSSL(t, dir, imported, "RSA_AES_KEY_WRAP_SHA_256", pkcs8))
		ours, err := os.ReadFile(publicKeyPEM(t, dir, imported))
		require.NoError(t, err)
		theirs, err := os.ReadFile(theirPub)
		require.NoError(t, err)
		require.Equal(t, string(theirs), string(ours), "the imported key's public key is OpenSSL's")
		if usage == "SIGN_VERIFY" {
			theirSig := openssl(t, "dgst", "-sm3", "-sign", priv, "-sigopt", distid, msg)
			v := write(t, "kms/verify/"+imported, map[string]any{"message": b64(msgText), "signature": b64(theirSig), "signing_algorithm": "SM2DSA"})
			require.Equal(t, true, v.Data["signature_valid"], "the plugin verifies OpenSSL's SM2 signature")
			continue
		}
		c := write(t, "kms/encrypt/"+imported, map[string]any{"plaintext": b64(msgText), "encryption_algorithm": "SM2PKE"}).Data["ciphertext_blob"]
		out := openssl(t, "pkeyutl", "-decrypt", "-inkey", priv, "-in", writeFile(t, dir, "plugin.ct", unb64(t, c)))
		require.Equal(t, msgText, out, "OpenSSL decrypts the plugin's SM2 ciphertext")
	}
}
