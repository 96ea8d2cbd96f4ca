package kms

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/keyspec"

	"github.com/openkms/vault-plugin-kms/awspolicy"
)

// The measurements of docs/SCALE.md. They are benchmarks, so `go test`
// (and `make test`) never runs them; rerun them with
//
//	go test -run '^$' -bench Scale -benchtime 2000x -timeout 60m .
//
// or one family, e.g. -bench 'ScaleKeyCache/keys=100000/'. The million-key
// cases need about 3 GB of memory (the in-memory storage holds the keys).

// scaleOnly skips a scale benchmark unless the -bench pattern names Scale:
// `make gobench` (-bench .) would otherwise spend many minutes and
// gigabytes on a million keys and on RSA key generation.
func scaleOnly(b *testing.B) {
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Scale") {
		b.Skip("a scale benchmark: run with -bench Scale (docs/SCALE.md)")
	}
}

// heapUse is the heap after a full collection: HeapInuse (spans in use, what
// the process holds) and HeapAlloc (the live objects alone).
type heapUse struct{ inuse, alloc int64 }

func readHeap() heapUse {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return heapUse{int64(m.HeapInuse), int64(m.HeapAlloc)}
}

func (h heapUse) since(before heapUse) heapUse {
	return heapUse{h.inuse - before.inuse, h.alloc - before.alloc}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// quietBackend is a test backend that logs only errors: authorization
// decisions log at debug, which would be the measurement otherwise.
func quietBackend(b *testing.B, s logical.Storage) *testBackend {
	tb := newTestBackend(b)
	tb.Logger().SetLevel(hclog.Error)
	if s != nil {
		tb.storage = s
	}
	return tb
}

func encryptReq(tb *testBackend, id string) error {
	_, err := tb.do(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("a 32-byte message for benchmarks")})
	return err
}

// discardStorage drops writes: recordUse's storage write is not the
// in-memory state being measured.
type discardStorage struct{ logical.Storage }

func (discardStorage) Put(context.Context, *logical.StorageEntry) error { return nil }

// BenchmarkScaleKeyCache: N SYMMETRIC_DEFAULT keys exist and all have been
// used; the plugin's heap holds the cache (bounded by key_cache_size) and
// the last-usage records. Reported once per case on the hot sub-benchmark:
// cache-MiB and cache-B/key (heap growth from reading all N keys, after
// GC, per cached key), cached (keys in the cache), usage-MiB and
// usage-B/key (recordUse for all N keys, as N first encrypts spread over
// an hour make them; records persisted over a minute ago are pruned).
// hot encrypts one key again and again (always cached); spread encrypts a
// key chosen at random among all N (a miss whenever N > key_cache_size).
//
// Keys: 10,000 made through the API (CreateKey); 100,000 and 1,000,000
// written straight to storage by seedKeys, each its own material.
func BenchmarkScaleKeyCache(b *testing.B) {
	scaleOnly(b)
	ctx := context.Background()
	for _, n := range []int{10000, 100000, 1000000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := &logical.InmemStorage{}
			var ids []string
			if n <= 10000 {
				maker := quietBackend(b, s)
				for range n {
					ids = append(ids, maker.createKey(nil))
				}
				maker.Cleanup(ctx)
			} else {
				ids = seedKeys(b, s, keyspec.SymmetricDefault, n, false)
			}
			for _, size := range []int{defaultKeyCacheSize, 1000} {
				b.Run(fmt.Sprintf("cache=%d", size), func(b *testing.B) {
					tb := quietBackend(b, s)
					defer tb.Cleanup(ctx)
					tb.ok(logical.UpdateOperation, "config", map[string]any{"key_cache_size": size})
					tb.cache.reset()
					before := readHeap()
					for _, id := range ids {
						if _, err := tb.keys.Get(ctx, s, id); err != nil {
							b.Fatal(err)
						}
					}
					cacheBytes := readHeap().since(before)
					cached := tb.keys.Keys.Len()
					before = readHeap()
					// The N first uses spread over an hour.
					step := time.Hour / time.Duration(n)
					for _, id := range ids {
						tb.advance(step)
						tb.keys.RecordUse(ctx, discardStorage{s}, id, keyspec.OpEncrypt, "")
					}
					usageBytes := readHeap().since(before).inuse
					tb.keys.ForgetUsage() // measured; do not let it weigh on the latencies
					hot := ids[len(ids)/2]
					b.Run("hot", func(b *testing.B) {
						for b.Loop() {
							if err := encryptReq(tb, hot); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(mib(cacheBytes.inuse), "cache-MiB")
						b.ReportMetric(float64(cacheBytes.inuse)/float64(max(cached, 1)), "cache-B/key")
						b.ReportMetric(float64(cacheBytes.alloc)/float64(max(cached, 1)), "live-B/key")
						b.ReportMetric(float64(cached), "cached")
						b.ReportMetric(mib(usageBytes), "usage-MiB")
						b.ReportMetric(float64(usageBytes)/float64(n), "usage-B/key")
					})
					b.Run("spread", func(b *testing.B) {
						r := rand.New(rand.NewPCG(1, 2))
						for b.Loop() {
							if err := encryptReq(tb, ids[r.IntN(len(ids))]); err != nil {
								b.Fatal(err)
							}
						}
					})
				})
			}
		})
	}
}

// BenchmarkScaleColdKey is the cost of a key that is not cached: getKey
// after the cache is emptied is one storage Get, the JSON decode and the
// parse of the material (warm: a cache hit). cache-B/key (HeapInuse) and
// live-B/key (HeapAlloc) are the heap one cached key of the spec takes,
// from 1,000 keys read into the cache.
func BenchmarkScaleColdKey(b *testing.B) {
	scaleOnly(b)
	ctx := context.Background()
	for _, spec := range createSpecs {
		b.Run(spec, func(b *testing.B) {
			tb := quietBackend(b, nil)
			defer tb.Cleanup(ctx)
			ids := seedKeys(b, tb.storage, spec, 1000, true)
			tb.cache.reset()
			before := readHeap()
			for _, id := range ids {
				_, err := tb.keys.Get(ctx, tb.storage, id)
				require.NoError(b, err)
			}
			grown := readHeap().since(before)
			id := ids[0]
			b.Run("cold", func(b *testing.B) {
				for b.Loop() {
					tb.keys.Keys.Reset()
					if e, err := tb.keys.Get(ctx, tb.storage, id); err != nil || e == nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(grown.inuse)/float64(len(ids)), "cache-B/key")
				b.ReportMetric(float64(grown.alloc)/float64(len(ids)), "live-B/key")
			})
			b.Run("warm", func(b *testing.B) {
				for b.Loop() {
					if e, err := tb.keys.Get(ctx, tb.storage, id); err != nil || e == nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	// The same at the request level, for an encrypt.
	b.Run("encrypt-request", func(b *testing.B) {
		tb := quietBackend(b, nil)
		defer tb.Cleanup(ctx)
		id := tb.createKey(nil)
		b.Run("cold", func(b *testing.B) {
			for b.Loop() {
				tb.keys.Keys.Reset()
				if err := encryptReq(tb, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("warm", func(b *testing.B) {
			for b.Loop() {
				if err := encryptReq(tb, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkScaleGrants: one key whose policy allows only entity:admin,
// with others grants (Encrypt and Decrypt, each for its own entity) plus
// one for entity:grantee. grantee encrypts through its grant; stranger,
// with no grant, is refused; cold-index is grantee's encrypt right after
// the key's grant index was dropped (it is read from storage again);
// create-grant is CreateGrant by admin for a new grantee each time.
// index-MiB and index-B/grant are the heap of the key's loaded grant index.
func BenchmarkScaleGrants(b *testing.B) {
	scaleOnly(b)
	ctx := context.Background()
	for _, others := range []int{0, 1000, 49999} {
		b.Run(fmt.Sprintf("grants=%d", others+1), func(b *testing.B) {
			tb := quietBackend(b, nil)
			defer tb.Cleanup(ctx)
			tb.lookupIdentity = func(id string) (*awspolicy.Caller, error) {
				return ident(id, id), nil
			}
			policy := `{"Version":"2012-10-17","Statement":[{"Sid":"admin","Effect":"Allow","Principal":{"Vault":"entity:admin"},"Action":"kms:*","Resource":"*"}]}`
			id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": policy})["key_id"].(string)
			seedGrants(b, tb, id, others)
			tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
				"grantee_principal": "entity:grantee", "operations": "Encrypt,Decrypt"})
			tb.cache.grants.Reset()
			before := readHeap()
			x, err := tb.grants(ctx, tb.storage, id)
			require.NoError(b, err)
			index := readHeap().since(before)
			require.Equal(b, others+1, x.Count())
			data := map[string]any{"plaintext": b64s("a 32-byte message for benchmarks")}
			b.Run("grantee", func(b *testing.B) {
				for b.Loop() {
					if _, err := tb.as("grantee", logical.UpdateOperation, "encrypt/"+id, data); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(mib(index.inuse), "index-MiB")
				b.ReportMetric(float64(index.alloc)/float64(others+1), "index-B/grant")
			})
			b.Run("stranger", func(b *testing.B) {
				for b.Loop() {
					if _, err := tb.as("stranger", logical.UpdateOperation, "encrypt/"+id, data); err == nil {
						b.Fatal("a caller without a grant was allowed")
					}
				}
			})
			b.Run("cold-index", func(b *testing.B) {
				for b.Loop() {
					tb.cache.grants.Reset()
					if _, err := tb.as("grantee", logical.UpdateOperation, "encrypt/"+id, data); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("create-grant", func(b *testing.B) {
				// Past AWS's 50,000 for this measurement only.
				defer func(n int) { access.MaxGrantsPerKey = n }(access.MaxGrantsPerKey)
				access.MaxGrantsPerKey = 1 << 30
				i := 0
				for b.Loop() {
					i++
					tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", map[string]any{
						"grantee_principal": "entity:new-" + strconv.Itoa(i), "operations": "Encrypt"})
				}
			})
		})
	}
}

// seedGrants adds n grants to a key through putGrant, the write CreateGrant
// makes, without CreateGrant's checks (whose cost is measured apart).
func seedGrants(b *testing.B, tb *testBackend, keyID string, n int) {
	ctx := context.Background()
	unlock := tb.keys.Lock(keyID)
	defer unlock()
	x, err := tb.lockedGrants(ctx, tb.storage, keyID)
	require.NoError(b, err)
	now := tb.now().UTC()
	for i := range n {
		g := &grantEntry{GrantID: fmt.Sprintf("%064x", i+1), KeyID: keyID, GranteePrincipal: "entity:user-" + strconv.Itoa(i),
			IssuingPrincipal: "entity:admin", Operations: []string{keyspec.OpEncrypt, keyspec.OpDecrypt}, CreationDate: now}
		require.NoError(b, tb.putGrant(ctx, tb.storage, x, g))
	}
}

// BenchmarkScaleStart is a plugin start (Factory and initialize, as on
// mount or `vault plugin reload`) on storage holding N keys, and the first
// encrypt after it. gets and lists are the storage calls of one start.
func BenchmarkScaleStart(b *testing.B) {
	scaleOnly(b)
	ctx := context.Background()
	for _, n := range []int{0, 100000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := newCallCounter(&logical.InmemStorage{})
			ids := append(seedKeys(b, s, keyspec.SymmetricDefault, n, false), seedKeys(b, s, keyspec.SymmetricDefault, 1, false)...)
			startBackend(b, s).Cleanup(ctx) // the first start on a mount writes its markers
			b.Run("start", func(b *testing.B) {
				var gets, lists int
				for b.Loop() {
					s.reset()
					startBackend(b, s).Cleanup(ctx)
					gets, lists = s.totals()
				}
				b.ReportMetric(float64(gets), "gets")
				b.ReportMetric(float64(lists), "lists")
			})
			b.Run("start+first-encrypt", func(b *testing.B) {
				for b.Loop() {
					nb := startBackend(b, s)
					nb.Logger().SetLevel(hclog.Error)
					tb := &testBackend{backend: nb, t: b, storage: s}
					if err := encryptReq(tb, ids[len(ids)-1]); err != nil {
						b.Fatal(err)
					}
					nb.Cleanup(ctx)
				}
			})
		})
	}
}

// createSpecs are the specs whose creation rate docs/SCALE.md reports.
var createSpecs = []string{
	keyspec.SymmetricDefault, keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096,
	keyspec.ECCNistP256, keyspec.ECCNistP384, keyspec.ECCNistP521, keyspec.ECCSecgP256K1, keyspec.ECCEd25519,
	keyspec.MLDSA44, keyspec.MLDSA65, keyspec.MLDSA87, keyspec.HMAC256, keyspec.MLKEM768,
}

// BenchmarkScaleCreateKey is CreateKey through the API per key spec;
// keys/s is its rate on one caller. p50-ms/p99-ms show RSA's spread: RSA
// generation searches for primes, so its time varies widely.
func BenchmarkScaleCreateKey(b *testing.B) {
	scaleOnly(b)
	ctx := context.Background()
	for _, spec := range createSpecs {
		b.Run(spec, func(b *testing.B) {
			tb := quietBackend(b, nil)
			defer tb.Cleanup(ctx)
			data := map[string]any{"key_spec": spec}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				tb.createKey(data)
				lat = append(lat, time.Since(start))
			}
			var total time.Duration
			for _, d := range lat {
				total += d
			}
			b.ReportMetric(float64(len(lat))/total.Seconds(), "keys/s")
			b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
		})
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
