package integration

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	circled "github.com/cloudflare/circl/sign/ed25519"
	"github.com/stretchr/testify/require"
)

// openssl runs the openssl command line and fails the test if it fails.
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "openssl %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	return out.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, v any) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.(string))
	require.NoError(t, err)
	return b
}

func createKey(t *testing.T, data map[string]any) string {
	t.Helper()
	return write(t, "kms/keys", data).Data["key_id"].(string)
}

func publicKeyPEM(t *testing.T, dir, id string) string {
	t.Helper()
	pk := read(t, "kms/keys/"+id+"/public-key")
	return writeFile(t, dir, id+".pem", []byte(pk.Data["public_key_pem"].(string)))
}

var opensslHash = map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}

// OpenSSL verifies our signatures for every RSA, ECDSA and Ed25519
// algorithm, for RAW and DIGEST messages, using only the downloaded PEM.
func TestOpenSSLVerifiesOurSignatures(t *testing.T) {
	dir := t.TempDir()
	msg := []byte("The quick brown fox jumps over the lazy dog")
	msgPath := writeFile(t, dir, "msg", msg)
	type algo struct {
		name  string
		hash  crypto.Hash
		pss   bool
		specs []string
	}
	algos := []algo{
		{"RSASSA_PSS_SHA_256", crypto.SHA256, true, []string{"RSA_2048"}},
		{"RSASSA_PSS_SHA_384", crypto.SHA384, true, []string{"RSA_3072"}},
		{"RSASSA_PSS_SHA_512", crypto.SHA512, true, []string{"RSA_4096"}},
		{"RSASSA_PKCS1_V1_5_SHA_256", crypto.SHA256, false, []string{"RSA_2048"}},
		{"RSASSA_PKCS1_V1_5_SHA_384", crypto.SHA384, false, []string{"RSA_2048"}},
		{"RSASSA_PKCS1_V1_5_SHA_512", crypto.SHA512, false, []string{"RSA_3072"}},
		{"ECDSA_SHA_256", crypto.SHA256, false, []string{"ECC_NIST_P256", "ECC_SECG_P256K1"}},
		{"ECDSA_SHA_384", crypto.SHA384, false, []string{"ECC_NIST_P384"}},
		{"ECDSA_SHA_512", crypto.SHA512, false, []string{"ECC_NIST_P521"}},
	}
	keys := map[string]string{}
	keyFor := func(spec string) string {
		if keys[spec] == "" {
			keys[spec] = createKey(t, map[string]any{"key_spec": spec, "key_usage": "SIGN_VERIFY"})
		}
		return keys[spec]
	}
	for _, a := range algos {
		for _, spec := range a.specs {
			t.Run(a.name+"/"+spec, func(t *testing.T) {
				id := keyFor(spec)
				pub := publicKeyPEM(t, dir, id)
				h := a.hash.New()
				h.Write(msg)
				digest := h.Sum(nil)
				digestPath := writeFile(t, dir, a.name+"-digest", digest)
				pad := []string{}
				if a.pss {
					pad = []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}
				}

				raw := write(t, "kms/sign/"+id, map[string]any{"message": b64(msg), "signing_algorithm": a.name})
				sigPath := writeFile(t, dir, a.name+spec+"-raw.sig", unb64(t, raw.Data["signature"]))
				args := append([]string{"dgst", "-" + opensslHash[a.hash], "-verify", pub, "-signature", sigPath}, pad...)
				require.Contains(t, string(openssl(t, append(args, msgPath)...)), "Verified OK")

				dg := write(t, "kms/sign/"+id, map[string]any{"message": b64(digest), "message_type": "DIGEST", "signing_algorithm": a.name})
				sigPath = writeFile(t, dir, a.name+spec+"-digest.sig", unb64(t, dg.Data["signature"]))
				pk := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", digestPath, "-sigfile", sigPath,
					"-pkeyopt", "digest:" + opensslHash[a.hash]}
				if a.pss {
					pk = append(pk, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest")
				}
				require.Contains(t, string(openssl(t, pk...)), "Signature Verified Successfully")
			})
		}
	}

	t.Run("ED25519_SHA_512", func(t *testing.T) {
		id := createKey(t, map[string]any{"key_spec": "ECC_NIST_EDWARDS25519"})
		pub := publicKeyPEM(t, dir, id)
		s := write(t, "kms/sign/"+id, map[string]any{"message": b64(msg), "signing_algorithm": "ED25519_SHA_512"})
		sigPath := writeFile(t, dir, "ed.sig", unb64(t, s.Data["signature"]))
		require.Contains(t, string(openssl(t, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msgPath, "-sigfile", sigPath)),
			"Signature Verified Successfully")
	})

	// OpenSSL 3.0 has no Ed25519ph; circl's Ed25519ph, an implementation
	// independent of the Go standard library we sign with, verifies.
	t.Run("ED25519_PH_SHA_512", func(t *testing.T) {
		id := createKey(t, map[string]any{"key_spec": "ECC_NIST_EDWARDS25519"})
		der := unb64(t, read(t, "kms/keys/"+id+"/public-key").Data["public_key"])
		raw := der[len(der)-circled.PublicKeySize:]
		h := crypto.SHA512.New()
		h.Write(msg)
		digest := h.Sum(nil)
		s := write(t, "kms/sign/"+id, map[string]any{"message": b64(digest), "message_type": "DIGEST", "signing_algorithm": "ED25519_PH_SHA_512"})
		// As AWS documents, KMS hashes the submitted digest once more:
		// the signature is Ed25519ph whose message is the digest.
		require.True(t, circled.VerifyPh(raw, digest, unb64(t, s.Data["signature"]), ""))
		require.False(t, circled.VerifyPh(raw, msg, unb64(t, s.Data["signature"]), ""))
	})
}

// Signatures OpenSSL makes with its own keys do not verify under ours, and
// a signature of ours fails OpenSSL for another message.
func TestForeignSignaturesRefused(t *testing.T) {
	dir := t.TempDir()
	msgPath := writeFile(t, dir, "msg", []byte("hello"))
	for spec, curve := range map[string]string{"ECC_NIST_P256": "prime256v1", "ECC_SECG_P256K1": "secp256k1"} {
		id := createKey(t, map[string]any{"key_spec": spec})
		priv := filepath.Join(dir, curve+".pem")
		openssl(t, "ecparam", "-name", curve, "-genkey", "-noout", "-out", priv)
		sig := openssl(t, "dgst", "-sha256", "-sign", priv, msgPath)
		writeErr(t, "kms/verify/"+id, map[string]any{"message": b64([]byte("hello")), "signing_algorithm": "ECDSA_SHA_256", "signature": b64(sig)},
			http.StatusBadRequest, "KMSInvalidSignatureException")
	}
	id := createKey(t, map[string]any{"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})
	rsaPriv := filepath.Join(dir, "rsa.pem")
	openssl(t, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsaPriv)
	sig := openssl(t, "dgst", "-sha256", "-sign", rsaPriv, msgPath)
	writeErr(t, "kms/verify/"+id, map[string]any{"message": b64([]byte("hello")), "signing_algorithm": "RSASSA_PKCS1_V1_5_SHA_256", "signature": b64(sig)},
		http.StatusBadRequest, "KMSInvalidSignatureException")

	ours := write(t, "kms/sign/"+id, map[string]any{"message": b64([]byte("hello")), "signing_algorithm": "RSASSA_PKCS1_V1_5_SHA_256"})
	sigPath := writeFile(t, dir, "ours.sig", unb64(t, ours.Data["signature"]))
	other := writeFile(t, dir, "other", []byte("hellO"))
	cmd := exec.Command("openssl", "dgst", "-sha256", "-verify", publicKeyPEM(t, dir, id), "-signature", sigPath, other)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "Verification failure")
}

// OpenSSL encrypts to our RSA public keys with OAEP SHA-1 and SHA-256, and
// the plugin decrypts.
func TestOpenSSLEncryptsToOurRSAKeys(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096"} {
		id := createKey(t, map[string]any{"key_spec": spec})
		pub := publicKeyPEM(t, dir, id)
		for alg, md := range map[string]string{"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256"} {
			pt := make([]byte, 100)
			_, _ = rand.Read(pt)
			in := writeFile(t, dir, "pt", pt)
			ct := openssl(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", in,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
			d := write(t, "kms/decrypt/"+id, map[string]any{"ciphertext_blob": b64(ct), "encryption_algorithm": alg})
			require.Equal(t, pt, unb64(t, d.Data["plaintext"]), "%s %s", spec, alg)
		}
	}
}

// OpenSSL derives the same ECDH secret from its key pair and our public
// key as derive-shared-secret does from OpenSSL's public key.
func TestOpenSSLAgreesOnECDH(t *testing.T) {
	dir := t.TempDir()
	for spec, curve := range map[string]string{"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"} {
		id := createKey(t, map[string]any{"key_spec": spec, "key_usage": "KEY_AGREEMENT"})
		ours := publicKeyPEM(t, dir, id)
		priv := filepath.Join(dir, curve+".pem")
		openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve, "-out", priv)
		theirDER := openssl(t, "pkey", "-in", priv, "-pubout", "-outform", "DER")
		want := openssl(t, "pkeyutl", "-derive", "-inkey", priv, "-peerkey", ours)
		got := write(t, "kms/derive-shared-secret/"+id, map[string]any{"key_agreement_algorithm": "ECDH", "public_key": b64(theirDER)})
		require.Equal(t, want, unb64(t, got.Data["shared_secret"]), spec)
	}
	// A peer key on the wrong curve.
	id := createKey(t, map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "KEY_AGREEMENT"})
	priv := filepath.Join(dir, "p384.pem")
	openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", priv)
	writeErr(t, "kms/derive-shared-secret/"+id, map[string]any{"public_key": b64(openssl(t, "pkey", "-in", priv, "-pubout", "-outform", "DER"))},
		http.StatusBadRequest, "ValidationException")
}

// The PEM we serve parses in OpenSSL for every asymmetric spec, including
// secp256k1 and ML-DSA's SPKI.
func TestPublicKeysParseInOpenSSL(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []string{"RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"} {
		id := createKey(t, map[string]any{"key_spec": spec})
		text := string(openssl(t, "pkey", "-pubin", "-in", publicKeyPEM(t, dir, id), "-noout", "-text"))
		require.NotEmpty(t, text, spec)
		block, _ := pem.Decode([]byte(read(t, "kms/keys/"+id+"/public-key").Data["public_key_pem"].(string)))
		require.Equal(t, unb64(t, read(t, "kms/keys/"+id+"/public-key").Data["public_key"]), block.Bytes, fmt.Sprintf("%s: PEM and DER agree", spec))
	}
}
