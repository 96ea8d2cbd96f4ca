package kms

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

func batchResults(t *testing.T, data map[string]any) []map[string]any {
	t.Helper()
	res, ok := data["batch_results"].([]map[string]any)
	require.True(t, ok, "batch_results missing: %v", data)
	return res
}

// parallelism makes batches run on several workers even on a 1-core runner.
func parallelism(t *testing.T, n int) {
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

func TestBatchParallelKeepsOrderAndItemErrors(t *testing.T) {
	parallelism(t, 4)
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	const n = 300
	in := make([]any, n)
	for i := range in {
		switch {
		case i%37 == 5:
			in[i] = map[string]any{"plaintext": "%%% not base64"}
		case i%41 == 7:
			in[i] = "not an object"
		default:
			in[i] = map[string]any{"plaintext": b64s(fmt.Sprintf("item-%d", i)),
				"encryption_context": map[string]any{"i": fmt.Sprint(i)}}
		}
	}
	enc := batchResults(t, tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in}))
	require.Len(t, enc, n)
	dec := make([]any, n)
	for i, r := range enc {
		if i%37 == 5 || i%41 == 7 {
			require.Equal(t, kmserr.Validation, r["error_type"], "item %d", i)
			dec[i] = map[string]any{"ciphertext_blob": b64s("garbage")}
			continue
		}
		require.NotEmpty(t, r["ciphertext_blob"], "item %d: %v", i, r)
		ec := map[string]any{"i": fmt.Sprint(i)}
		if i%10 == 3 {
			ec = map[string]any{"i": "wrong"}
		}
		dec[i] = map[string]any{"ciphertext_blob": r["ciphertext_blob"], "encryption_context": ec}
	}
	out := batchResults(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"batch_input": dec}))
	require.Len(t, out, n)
	for i, r := range out {
		switch {
		case i%37 == 5 || i%41 == 7 || i%10 == 3:
			require.Equal(t, kmserr.InvalidCiphertext, r["error_type"], "item %d", i)
		default:
			require.Equal(t, fmt.Sprintf("item-%d", i), string(unb64(t, r["plaintext"])), "item %d", i)
		}
	}
}

func TestBatchTopLevelFieldsAreItemDefaults(t *testing.T) {
	parallelism(t, 4)
	tb := newTestBackend(t)

	// Encrypt and decrypt: a top-level encryption context binds every item
	// that does not bring its own.
	sym := tb.createKey(nil)
	enc := batchResults(t, tb.ok(logical.UpdateOperation, "encrypt/"+sym, map[string]any{
		"encryption_context": map[string]any{"tenant": "a"},
		"batch_input": []any{
			map[string]any{"plaintext": b64s("default context")},
			map[string]any{"plaintext": b64s("own context"), "encryption_context": map[string]any{"tenant": "b"}},
		},
	}))
	require.NotEmpty(t, enc[0]["ciphertext_blob"])
	require.NotEmpty(t, enc[1]["ciphertext_blob"])
	dec := batchResults(t, tb.ok(logical.UpdateOperation, "decrypt", map[string]any{
		"encryption_context": map[string]any{"tenant": "a"},
		"batch_input": []any{
			map[string]any{"ciphertext_blob": enc[0]["ciphertext_blob"]},
			map[string]any{"ciphertext_blob": enc[1]["ciphertext_blob"]},
			map[string]any{"ciphertext_blob": enc[1]["ciphertext_blob"], "encryption_context": map[string]any{"tenant": "b"}},
		},
	}))
	require.Equal(t, "default context", string(unb64(t, dec[0]["plaintext"])))
	require.Equal(t, kmserr.InvalidCiphertext, dec[1]["error_type"], "the top-level context applied")
	require.Equal(t, "own context", string(unb64(t, dec[2]["plaintext"])))

	// Re-encrypt: source and destination contexts from the top level.
	re := batchResults(t, tb.ok(logical.UpdateOperation, "re-encrypt/"+sym, map[string]any{
		"source_encryption_context":      map[string]any{"tenant": "a"},
		"destination_encryption_context": map[string]any{"tenant": "c"},
		"batch_input":                    []any{map[string]any{"ciphertext_blob": enc[0]["ciphertext_blob"]}},
	}))
	require.NotEmpty(t, re[0]["ciphertext_blob"], "%v", re[0])
	back := tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": re[0]["ciphertext_blob"],
		"encryption_context": map[string]any{"tenant": "c"}})
	require.Equal(t, "default context", string(unb64(t, back["plaintext"])))

	// Sign and verify: signing_algorithm and message_type from the top level.
	ecc := tb.createKey(map[string]any{"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"})
	sigs := batchResults(t, tb.ok(logical.UpdateOperation, "sign/"+ecc, map[string]any{
		"signing_algorithm": "ECDSA_SHA_256",
		"batch_input": []any{
			map[string]any{"message": b64s("m0")},
			map[string]any{"message": b64s("m1"), "signing_algorithm": "RSASSA_PSS_SHA_256"},
			map[string]any{"message": b64s("m2")},
		},
	}))
	require.NotEmpty(t, sigs[0]["signature"], "%v", sigs[0])
	require.NotEmpty(t, sigs[1]["error_type"], "the item's own (RSA) algorithm wins: %v", sigs[1])
	require.Nil(t, sigs[1]["signature"])
	require.NotEmpty(t, sigs[2]["signature"], "%v", sigs[2])
	ver := batchResults(t, tb.ok(logical.UpdateOperation, "verify/"+ecc, map[string]any{
		"signing_algorithm": "ECDSA_SHA_256",
		"batch_input": []any{
			map[string]any{"message": b64s("m0"), "signature": sigs[0]["signature"]},
			map[string]any{"message": b64s("m0"), "signature": sigs[2]["signature"]},
			map[string]any{"message": b64s("m2"), "signature": sigs[2]["signature"]},
		},
	}))
	require.Equal(t, true, ver[0]["signature_valid"])
	require.Equal(t, kmserr.InvalidSignature, ver[1]["error_type"])
	require.Equal(t, true, ver[2]["signature_valid"])
	digest := batchResults(t, tb.ok(logical.UpdateOperation, "sign/"+ecc, map[string]any{
		"signing_algorithm": "ECDSA_SHA_256", "message_type": "DIGEST",
		"batch_input": []any{map[string]any{"message": b64s("too short for a SHA-256 digest")}},
	}))
	require.Equal(t, kmserr.Validation, digest[0]["error_type"], "message_type DIGEST applied: %v", digest[0])

	// MACs: mac_algorithm from the top level.
	hmac := tb.createKey(map[string]any{"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"})
	macs := batchResults(t, tb.ok(logical.UpdateOperation, "generate-mac/"+hmac, map[string]any{
		"mac_algorithm": "HMAC_SHA_256",
		"batch_input":   []any{map[string]any{"message": b64s("a")}, map[string]any{"message": b64s("b")}},
	}))
	require.NotEmpty(t, macs[0]["mac"], "%v", macs[0])
	vm := batchResults(t, tb.ok(logical.UpdateOperation, "verify-mac/"+hmac, map[string]any{
		"mac_algorithm": "HMAC_SHA_256",
		"batch_input": []any{
			map[string]any{"message": b64s("a"), "mac": macs[0]["mac"]},
			map[string]any{"message": b64s("a"), "mac": macs[1]["mac"]},
		},
	}))
	require.Equal(t, true, vm[0]["mac_valid"])
	require.Equal(t, kmserr.InvalidMac, vm[1]["error_type"])

	// The path's key wins over an item's key_id.
	other := tb.createKey(nil)
	own := batchResults(t, tb.ok(logical.UpdateOperation, "encrypt/"+sym, map[string]any{
		"batch_input": []any{map[string]any{"plaintext": b64s("x"), "key_id": other}},
	}))
	require.Equal(t, sym, own[0]["key_id"])
}

// Every item is authorized on its own: a grant constrained to an
// encryption context admits only the items carrying it.
func TestBatchAuthorizesEachItem(t *testing.T) {
	parallelism(t, 4)
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t, map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")})
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
		"grantee_principal": "entity:bob", "operations": "Encrypt",
		"encryption_context_subset": map[string]any{"dept": "x"},
	})
	in := make([]any, 64)
	for i := range in {
		dept := "x"
		if i%2 == 1 {
			dept = "y"
		}
		in[i] = map[string]any{"plaintext": b64s("p"), "encryption_context": map[string]any{"dept": dept}}
	}
	res := batchResults(t, tb.asOK("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in}))
	for i, r := range res {
		if i%2 == 1 {
			require.Equal(t, kmserr.AccessDenied, r["error_type"], "item %d", i)
		} else {
			require.NotEmpty(t, r["ciphertext_blob"], "item %d: %v", i, r)
		}
	}
	// A caller without any grant: every item refused, none fails the batch.
	res = batchResults(t, tb.asOK("eve", logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in[:4]}))
	for i, r := range res {
		require.Equal(t, kmserr.AccessDenied, r["error_type"], "item %d", i)
	}
}

func TestForEachParallel(t *testing.T) {
	parallelism(t, 4)
	var seen [1000]atomic.Int32
	require.NoError(t, forEachParallel(context.Background(), len(seen), func(i int) error {
		seen[i].Add(1)
		return nil
	}))
	for i := range seen {
		require.EqualValues(t, 1, seen[i].Load(), "item %d", i)
	}

	// The first internal error is returned, and stops the items not started.
	boom := errors.New("boom")
	var ran atomic.Int32
	err := forEachParallel(context.Background(), 100000, func(i int) error {
		ran.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.Less(t, int(ran.Load()), 100000)

	// Items overlap: up to GOMAXPROCS of them run at once.
	var running, peak atomic.Int32
	require.NoError(t, forEachParallel(context.Background(), 40, func(int) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		return nil
	}))
	require.Greater(t, peak.Load(), int32(1))
	require.LessOrEqual(t, peak.Load(), int32(4))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, forEachParallel(ctx, 10, func(int) error { return nil }), context.Canceled)
}

func TestMemoryReleaseAfterLargeBatches(t *testing.T) {
	var released atomic.Int32
	// The delay is far above the gaps of the burst, so that a sleep that
	// wakes late on a loaded machine does not end the burst early.
	const delay = 500 * time.Millisecond
	r := &memoryReleaser{delay: delay, release: func() { released.Add(1) }}
	for range 5 {
		r.arm() // a burst re-arms, it does not queue releases
		time.Sleep(10 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return released.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(delay + 100*time.Millisecond)
	require.EqualValues(t, 1, released.Load(), "one release for one burst")
	r.arm()
	require.Eventually(t, func() bool { return released.Load() == 2 }, 5*time.Second, 10*time.Millisecond)
}

// BenchmarkBatchSignRSA signs batches of 100 with RSA_2048 PSS in-process;
// run with -cpu 1,2 to see the parallel speed-up.
func BenchmarkBatchSignRSA(b *testing.B) {
	tb := newTestBackend(b)
	tb.Logger().SetLevel(hclog.Error)
	id := tb.createKey(map[string]any{"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"})
	in := make([]any, 100)
	for i := range in {
		in[i] = map[string]any{"message": b64s(fmt.Sprint(i))}
	}
	data := map[string]any{"signing_algorithm": "RSASSA_PSS_SHA_256", "batch_input": in}
	for b.Loop() {
		tb.ok(logical.UpdateOperation, "sign/"+id, data)
	}
}

// A batch evaluates the key policy once for items whose condition keys
// are equal, and once per item when they differ; the decisions are those
// of single requests either way.
func TestBatchEvaluatesPolicyOncePerDistinctKeys(t *testing.T) {
	parallelism(t, 4)
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := awsDoc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"`+iam+`user/admin"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"no-secret","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:class":"*secret*"}}}`)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	const n = 200
	run := func(ec func(i int) map[string]any) ([]map[string]any, int64) {
		in := make([]any, n)
		for i := range in {
			in[i] = map[string]any{"plaintext": b64s("x"), "encryption_context": ec(i)}
		}
		before := tb.policyEvaluations.Load()
		out := batchResults(t, tb.asOK("admin", logical.UpdateOperation, "encrypt/"+id, map[string]any{"batch_input": in}))
		return out, tb.policyEvaluations.Load() - before
	}
	same, evals := run(func(int) map[string]any { return map[string]any{"class": "public"} })
	require.EqualValues(t, 1, evals, "equal condition keys: one evaluation")
	for _, r := range same {
		require.Nil(t, r["error"], r)
	}
	mixed, evals := run(func(i int) map[string]any {
		if i%2 == 0 {
			return map[string]any{"class": "top-secret", "i": fmt.Sprint(i)}
		}
		return map[string]any{"class": "public", "i": fmt.Sprint(i)}
	})
	require.EqualValues(t, n, evals, "distinct condition keys: one evaluation each")
	for i, r := range mixed {
		if i%2 == 0 {
			require.Equal(t, kmserr.AccessDenied, r["error_type"], "item %d", i)
		} else {
			require.Nil(t, r["error"], "item %d: %v", i, r)
		}
	}
}
