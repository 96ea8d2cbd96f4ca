package integration

import (
	"crypto/sha3"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's examples, through the vault CLI.
func TestCryptoCLI(t *testing.T) {
	alias := "alias/" + unique("crypto-cli")
	mustCLI(t, dev, "write", "kms/keys", "alias="+alias)
	enc := cliJSON(t, dev, "write", "kms/encrypt/"+alias, "plaintext="+b64([]byte("hello")), "encryption_context=app=orders")
	dec := cliJSON(t, dev, "write", "kms/decrypt", "ciphertext_blob="+enc["ciphertext_blob"].(string), "encryption_context=app=orders")
	require.Equal(t, "hello", string(unb64(t, dec["plaintext"])))

	signer := cliJSON(t, dev, "write", "kms/keys", "key_spec=ECC_NIST_P256")["key_id"].(string)
	sig := cliJSON(t, dev, "write", "kms/sign/"+signer, "message="+b64([]byte("msg")), "signing_algorithm=ECDSA_SHA_256")
	v := cliJSON(t, dev, "write", "kms/verify/"+signer, "message="+b64([]byte("msg")), "signing_algorithm=ECDSA_SHA_256", "signature="+sig["signature"].(string))
	require.Equal(t, true, v["signature_valid"])
	require.Contains(t, cliJSON(t, dev, "read", "kms/keys/"+signer+"/public-key")["public_key_pem"], "BEGIN PUBLIC KEY")

	h := cliJSON(t, dev, "write", "kms/keys", "key_spec=HMAC_256")["key_id"].(string)
	mac := cliJSON(t, dev, "write", "kms/generate-mac/"+h, "message="+b64([]byte("m")), "mac_algorithm=HMAC_SHA_256")
	require.Equal(t, true, cliJSON(t, dev, "write", "kms/verify-mac/"+h, "message="+b64([]byte("m")), "mac_algorithm=HMAC_SHA_256", "mac="+mac["mac"].(string))["mac_valid"])
	require.Len(t, unb64(t, cliJSON(t, dev, "write", "kms/random", "number_of_bytes=16")["plaintext"]), 16)

	other := cliJSON(t, dev, "write", "-f", "kms/keys")["key_id"].(string)
	re := cliJSON(t, dev, "write", "kms/re-encrypt/"+other, "ciphertext_blob="+enc["ciphertext_blob"].(string), "source_encryption_context=app=orders")
	require.Equal(t, other, re["key_id"])
}

func TestCryptoRefusalsOverHTTP(t *testing.T) {
	sym := createKey(t, nil)
	signer := createKey(t, map[string]any{"key_spec": "ECC_NIST_P256"})
	h := createKey(t, map[string]any{"key_spec": "HMAC_256"})
	pt := b64([]byte("x"))
	blob := write(t, "kms/encrypt/"+sym, map[string]any{"plaintext": pt, "encryption_context": map[string]any{"a": "1"}}).Data["ciphertext_blob"].(string)

	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob}, http.StatusBadRequest, "InvalidCiphertextException")
	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"a": "2"}}, http.StatusBadRequest, "InvalidCiphertextException")
	raw := unb64(t, blob)
	raw[len(raw)-3] ^= 4
	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": b64(raw), "encryption_context": map[string]any{"a": "1"}}, http.StatusBadRequest, "InvalidCiphertextException")
	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": b64(raw[:20])}, http.StatusBadRequest, "InvalidCiphertextException")
	writeErr(t, "kms/decrypt/"+createKey(t, nil), map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"a": "1"}}, http.StatusBadRequest, "IncorrectKeyException")
	writeErr(t, "kms/encrypt/"+signer, map[string]any{"plaintext": pt}, http.StatusBadRequest, "InvalidKeyUsageException")
	writeErr(t, "kms/sign/"+sym, map[string]any{"message": pt, "signing_algorithm": "ECDSA_SHA_256"}, http.StatusBadRequest, "InvalidKeyUsageException")
	writeErr(t, "kms/generate-mac/"+signer, map[string]any{"message": pt, "mac_algorithm": "HMAC_SHA_256"}, http.StatusBadRequest, "InvalidKeyUsageException")
	writeErr(t, "kms/sign/"+signer, map[string]any{"message": pt, "signing_algorithm": "RSASSA_PSS_SHA_256"}, http.StatusBadRequest, "InvalidKeyUsageException")
	writeErr(t, "kms/encrypt/"+sym, map[string]any{"plaintext": b64(make([]byte, 4097))}, http.StatusBadRequest, "ValidationException")
	writeErr(t, "kms/random", map[string]any{"number_of_bytes": 2000}, http.StatusBadRequest, "ValidationException")
	readErr(t, "kms/keys/"+sym+"/public-key", http.StatusBadRequest, "UnsupportedOperationException")
	mac := write(t, "kms/generate-mac/"+h, map[string]any{"message": pt, "mac_algorithm": "HMAC_SHA_256"}).Data["mac"]
	writeErr(t, "kms/verify-mac/"+h, map[string]any{"message": b64([]byte("y")), "mac_algorithm": "HMAC_SHA_256", "mac": mac}, http.StatusBadRequest, "KMSInvalidMacException")
	writeErr(t, "kms/encrypt/alias/"+unique("none"), map[string]any{"plaintext": pt}, http.StatusNotFound, "NotFoundException")

	write(t, "kms/keys/"+sym+"/disable", nil)
	writeErr(t, "kms/encrypt/"+sym, map[string]any{"plaintext": pt}, http.StatusBadRequest, "DisabledException")
	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"a": "1"}}, http.StatusBadRequest, "DisabledException")
	write(t, "kms/keys/"+sym+"/schedule-deletion", map[string]any{"pending_window_days": 7})
	writeErr(t, "kms/encrypt/"+sym, map[string]any{"plaintext": pt}, http.StatusBadRequest, "KMSInvalidStateException")
	writeErr(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"a": "1"}}, http.StatusBadRequest, "KMSInvalidStateException")
	write(t, "kms/keys/"+sym+"/cancel-deletion", nil)
	write(t, "kms/keys/"+sym+"/enable", nil)
	d := write(t, "kms/decrypt", map[string]any{"ciphertext_blob": blob, "encryption_context": map[string]any{"a": "1"}})
	require.Equal(t, "x", string(unb64(t, d.Data["plaintext"])), "cancel and enable restore the key")
}

// batchResults decodes batch_results from an API response.
func batchResults(t *testing.T, data map[string]any) []map[string]any {
	t.Helper()
	raw, err := json.Marshal(data["batch_results"])
	require.NoError(t, err)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func TestBatchOverHTTP(t *testing.T) {
	sym := createKey(t, nil)
	res := batchResults(t, write(t, "kms/encrypt/"+sym, map[string]any{"batch_input": []any{
		map[string]any{"plaintext": b64([]byte("a"))},
		map[string]any{"plaintext": "@@"},
		map[string]any{"plaintext": b64([]byte("c")), "encryption_context": map[string]any{"k": "v"}},
	}}).Data)
	require.Len(t, res, 3)
	require.Equal(t, "ValidationException", res[1]["error_type"])
	dec := batchResults(t, write(t, "kms/decrypt", map[string]any{"batch_input": []any{
		map[string]any{"ciphertext_blob": res[2]["ciphertext_blob"], "encryption_context": map[string]any{"k": "v"}},
		map[string]any{"ciphertext_blob": res[0]["ciphertext_blob"]},
		map[string]any{"ciphertext_blob": res[2]["ciphertext_blob"]},
	}}).Data)
	require.Equal(t, "c", string(unb64(t, dec[0]["plaintext"])))
	require.Equal(t, "a", string(unb64(t, dec[1]["plaintext"])))
	require.Equal(t, "InvalidCiphertextException", dec[2]["error_type"])

	signer := createKey(t, map[string]any{"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})
	sigs := batchResults(t, write(t, "kms/sign/"+signer, map[string]any{"batch_input": []any{
		map[string]any{"message": b64([]byte("1")), "signing_algorithm": "RSASSA_PSS_SHA_256"},
		map[string]any{"message": b64([]byte("2")), "signing_algorithm": "ECDSA_SHA_256"},
	}}).Data)
	require.NotEmpty(t, sigs[0]["signature"])
	require.Equal(t, "InvalidKeyUsageException", sigs[1]["error_type"])
	ver := batchResults(t, write(t, "kms/verify/"+signer, map[string]any{"batch_input": []any{
		map[string]any{"message": b64([]byte("1")), "signing_algorithm": "RSASSA_PSS_SHA_256", "signature": sigs[0]["signature"]},
		map[string]any{"message": b64([]byte("x")), "signing_algorithm": "RSASSA_PSS_SHA_256", "signature": sigs[0]["signature"]},
	}}).Data)
	require.Equal(t, true, ver[0]["signature_valid"])
	require.Equal(t, "KMSInvalidSignatureException", ver[1]["error_type"])

	h := createKey(t, map[string]any{"key_spec": "HMAC_512"})
	macs := batchResults(t, write(t, "kms/generate-mac/"+h, map[string]any{"batch_input": []any{
		map[string]any{"message": b64([]byte("1")), "mac_algorithm": "HMAC_SHA_512"},
	}}).Data)
	vm := batchResults(t, write(t, "kms/verify-mac/"+h, map[string]any{"batch_input": []any{
		map[string]any{"message": b64([]byte("1")), "mac_algorithm": "HMAC_SHA_512", "mac": macs[0]["mac"]},
		map[string]any{"message": b64([]byte("2")), "mac_algorithm": "HMAC_SHA_512", "mac": macs[0]["mac"]},
	}}).Data)
	require.Equal(t, true, vm[0]["mac_valid"])
	require.Equal(t, "KMSInvalidMacException", vm[1]["error_type"])
}

// Every key spec's signing algorithms work through Vault, ML-DSA included.
func TestSignEverySpecOverHTTP(t *testing.T) {
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"} {
		id := createKey(t, map[string]any{"key_spec": spec})
		algs := read(t, "kms/keys/"+id).Data["signing_algorithms"].([]any)
		alg := algs[0].(string)
		s := write(t, "kms/sign/"+id, map[string]any{"message": b64([]byte("m")), "signing_algorithm": alg})
		v := write(t, "kms/verify/"+id, map[string]any{"message": b64([]byte("m")), "signing_algorithm": alg, "signature": s.Data["signature"]})
		require.Equal(t, true, v.Data["signature_valid"], spec)
	}
}

// ML-DSA with an external mu (FIPS 204's message representative, computed
// here from the downloaded public key) makes the same signatures as RAW.
func TestMLDSAExternalMuOverHTTP(t *testing.T) {
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87"} {
		id := createKey(t, map[string]any{"key_spec": spec})
		der, err := base64.StdEncoding.DecodeString(read(t, "kms/keys/"+id+"/public-key").Data["public_key"].(string))
		require.NoError(t, err)
		var spki struct {
			Algorithm asn1.RawValue
			PublicKey asn1.BitString
		}
		_, err = asn1.Unmarshal(der, &spki)
		require.NoError(t, err)
		msg := []byte("signed through its mu")
		tr := sha3.SumSHAKE256(spki.PublicKey.Bytes, 64)
		mu := sha3.SumSHAKE256(append(append(tr, 0, 0), msg...), 64)

		s := write(t, "kms/sign/"+id, map[string]any{"message": b64(mu), "message_type": "EXTERNAL_MU", "signing_algorithm": "ML_DSA_SHAKE_256"})
		v := write(t, "kms/verify/"+id, map[string]any{"message": b64(msg), "signing_algorithm": "ML_DSA_SHAKE_256", "signature": s.Data["signature"]})
		require.Equal(t, true, v.Data["signature_valid"], spec)
		raw := write(t, "kms/sign/"+id, map[string]any{"message": b64(msg), "signing_algorithm": "ML_DSA_SHAKE_256"})
		v = write(t, "kms/verify/"+id, map[string]any{"message": b64(mu), "message_type": "EXTERNAL_MU", "signing_algorithm": "ML_DSA_SHAKE_256", "signature": raw.Data["signature"]})
		require.Equal(t, true, v.Data["signature_valid"], spec)
		writeErr(t, "kms/verify/"+id, map[string]any{"message": b64(msg[:10]), "signing_algorithm": "ML_DSA_SHAKE_256", "signature": s.Data["signature"]},
			http.StatusBadRequest, "KMSInvalidSignatureException")
	}
}
