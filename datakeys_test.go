package kms

import (
	"context"
	"crypto/x509"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func TestDataKeys(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	ctx := map[string]any{"bucket": "b1"}
	for spec, size := range map[string]int{"AES_128": 16, "AES_256": 32} {
		d := tb.ok(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": spec, "encryption_context": ctx})
		pt := unb64(t, d["plaintext"])
		require.Len(t, pt, size)
		dec := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"], "encryption_context": ctx})
		require.Equal(t, pt, unb64(t, dec["plaintext"]))
		tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"]})
	}
	for _, n := range []int{1, 7, 1024} {
		d := tb.ok(logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"number_of_bytes": n})
		require.NotContains(t, d, "plaintext")
		require.Len(t, unb64(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["ciphertext_blob"]})["plaintext"]), n)
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256", "number_of_bytes": 32})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_512"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"number_of_bytes": 0})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"number_of_bytes": 1025})

	rsa := tb.createKey(map[string]any{"key_spec": "RSA_2048"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "data-key/plaintext/"+rsa, map[string]any{"key_spec": "AES_256"})
	hmac := tb.createKey(map[string]any{"key_spec": "HMAC_256"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "data-key/wrapped/"+hmac, map[string]any{"key_spec": "AES_256"})
	tb.fails(kmserr.InvalidKeyUsage, logical.UpdateOperation, "data-key-pair/wrapped/"+rsa, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
	tb.fails(kmserr.Disabled, logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
	tb.ok(logical.UpdateOperation, "keys/"+id+"/schedule-deletion", nil)
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "data-key/wrapped/"+id, map[string]any{"key_spec": "AES_256"})
}

func TestDataKeyPairs(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	ctx := map[string]any{"purpose": "signing"}
	for _, spec := range keyspec.DataKeyPairSpecs() {
		d := tb.ok(logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": spec, "encryption_context": ctx})
		require.Equal(t, spec, d["key_pair_spec"])
		priv := unb64(t, d["private_key_plaintext"])
		wrapped := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": d["private_key_ciphertext_blob"], "encryption_context": ctx})
		require.Equal(t, priv, unb64(t, wrapped["plaintext"]), spec)
		s, _ := keyspec.Lookup(spec)
		if s.Family == keyspec.FamilyMLKEM {
			continue // PKCS#8 in seed form, which x509 does not read: TestKEMDataKeyPairs
		}
		k, err := s.Parse(priv)
		require.NoError(t, err, spec)
		pub, err := k.PublicKeyDER()
		require.NoError(t, err)
		require.Equal(t, pub, unb64(t, d["public_key"]), "%s: the public key belongs to the private key", spec)
		if spec != keyspec.ECCSecgP256K1 && spec != keyspec.SM2 { // crypto/x509 reads neither
			_, err = x509.ParsePKCS8PrivateKey(priv)
			require.NoError(t, err, spec)
		}
		w := tb.ok(logical.UpdateOperation, "data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": spec})
		require.NotContains(t, w, "private_key_plaintext")
		require.NotContains(t, w, "private_key_pem")
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ML_DSA_44"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "SYMMETRIC_DEFAULT"})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{})
}

func TestKeyPairPool(t *testing.T) {
	tb := newTestBackend(t)
	t.Cleanup(func() { tb.Cleanup(context.Background()) })
	id := tb.createKey(nil)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{"ML_DSA_44": "2"}})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{"ECC_NIST_P256": "65"}})
	tb.ok(logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{"ECC_NIST_P256": "3"}})
	require.Eventually(t, func() bool {
		return tb.ok(logical.ReadOperation, "config", nil)["data_key_pair_pool_ready"].(map[string]any)["ECC_NIST_P256"] == 3
	}, 10*time.Second, 10*time.Millisecond)

	seen := map[string]bool{}
	for range 10 {
		d := tb.ok(logical.UpdateOperation, "data-key-pair/wrapped/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256"})
		pub := d["public_key"].(string)
		require.False(t, seen[pub], "a pooled pair must be handed out once")
		seen[pub] = true
	}
	// Invalidate (another node changed the config) reloads it on next use.
	tb.Invalidate(context.Background(), configStorageKey)
	require.Equal(t, map[string]any{"ECC_NIST_P256": 3}, tb.ok(logical.ReadOperation, "config", nil)["data_key_pair_pool"])
	tb.ok(logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{"ECC_NIST_P256": "0"}})
	require.Empty(t, tb.ok(logical.ReadOperation, "config", nil)["data_key_pair_pool_ready"])
}

// BenchmarkDataKeyPair reports p50 and p99 latency of GenerateDataKeyPair
// per key pair spec, without a pool and with a pool that keeps up.
//
//	go test -run '^$' -bench DataKeyPair -benchtime 40x .
func BenchmarkDataKeyPair(b *testing.B) {
	for _, pooled := range []bool{false, true} {
		for _, spec := range keyspec.DataKeyPairSpecs() {
			b.Run(fmt.Sprintf("%s/pool=%v", spec, pooled), func(b *testing.B) {
				tb := newTestBackend(b)
				defer tb.Cleanup(context.Background())
				id := tb.createKey(nil)
				if pooled {
					tb.ok(logical.UpdateOperation, "config", map[string]any{"data_key_pair_pool": map[string]any{spec: "64"}})
				}
				req := map[string]any{"key_pair_spec": spec}
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					if pooled {
						// Measure a request that finds a pair ready, the case
						// the pool exists for; refilling is not timed.
						b.StopTimer()
						waitPool(tb, spec)
						b.StartTimer()
					}
					start := time.Now()
					if _, err := tb.do(logical.UpdateOperation, "data-key-pair/plaintext/"+id, req); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}

func waitPool(tb *testBackend, spec string) {
	for tb.pool.Ready()[spec] == 0 {
		time.Sleep(time.Millisecond)
	}
}
