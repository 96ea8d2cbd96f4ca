package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Mounts names where the three engines are mounted.
type Mounts struct {
	KMS, Transit, Floor string
}

// Row is one line of the benchmark table: the plugin's request, Transit's
// equivalent (if it has one) and the floor's echo of the plugin's body.
type Row struct {
	Name    string
	Items   int // items per request (batches); throughput is per item
	KMS     Request
	Transit *Request
	// Before runs ahead of the row (e.g. to fill a pool); After undoes it.
	Before, After func(ctx context.Context) error
	MaxOps        int
}

// Measured is a row's result at one concurrency.
type Measured struct {
	Row                  *Row
	Concurrency          int
	KMS, Floor, Transit  Result
	HasTransit, HasFloor bool
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func body(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// call sends one request that must succeed and decodes its data.
func (c *Client) call(ctx context.Context, path string, v any) (map[string]any, error) {
	status, raw, err := c.Do(ctx, Request{Path: path, Body: body(v)})
	if err != nil {
		return nil, err
	}
	if status >= 300 {
		return nil, fmt.Errorf("%s: HTTP %d: %.300s", path, status, raw)
	}
	var out struct {
		Data map[string]any `json:"data"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return out.Data, nil
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// Rows creates the keys the benchmark needs on both engines and returns
// the table's rows.
func (c *Client) Rows(ctx context.Context, m Mounts) ([]*Row, error) {
	kms := func(p string) string { return m.KMS + "/" + p }
	tr := func(p string) string { return m.Transit + "/" + p }
	keys := map[string]string{}
	for name, spec := range map[string]map[string]any{
		"sym":  {"description": "bench"},
		"rsa":  {"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"},
		"ecc":  {"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"},
		"hmac": {"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"},
	} {
		out, err := c.call(ctx, kms("keys"), spec)
		if err != nil {
			return nil, err
		}
		keys[name] = str(out, "key_id")
	}
	for name, typ := range map[string]string{"t-aes": "aes256-gcm96", "t-rsa": "rsa-2048", "t-ecc": "ecdsa-p256"} {
		if _, err := c.call(ctx, tr("keys/"+name), map[string]any{"type": typ}); err != nil {
			return nil, err
		}
	}

	var rows []*Row
	add := func(r *Row) { rows = append(rows, r) }
	for _, size := range []int{1024, 4096} {
		pt := b64(randomBytes(size))
		kct, err := c.call(ctx, kms("encrypt/"+keys["sym"]), map[string]any{"plaintext": pt})
		if err != nil {
			return nil, err
		}
		tct, err := c.call(ctx, tr("encrypt/t-aes"), map[string]any{"plaintext": pt})
		if err != nil {
			return nil, err
		}
		kib := fmt.Sprintf("%d KiB", size/1024)
		add(&Row{Name: "encrypt " + kib,
			KMS:     Request{Path: kms("encrypt/" + keys["sym"]), Body: body(map[string]any{"plaintext": pt})},
			Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"plaintext": pt})}})
		add(&Row{Name: "decrypt " + kib,
			KMS:     Request{Path: kms("decrypt/" + keys["sym"]), Body: body(map[string]any{"ciphertext_blob": str(kct, "ciphertext_blob")})},
			Transit: &Request{Path: tr("decrypt/t-aes"), Body: body(map[string]any{"ciphertext": str(tct, "ciphertext")})}})
	}

	msg := b64([]byte("the quick brown fox jumps over the lazy dog"))
	for _, s := range []struct{ name, key, tkey, alg, talg string }{
		{"RSA_2048 PSS", keys["rsa"], "t-rsa", "RSASSA_PSS_SHA_256", "pss"},
		{"ECC_NIST_P256", keys["ecc"], "t-ecc", "ECDSA_SHA_256", ""},
	} {
		ksig, err := c.call(ctx, kms("sign/"+s.key), map[string]any{"message": msg, "signing_algorithm": s.alg})
		if err != nil {
			return nil, err
		}
		tin := map[string]any{"input": msg}
		if s.talg != "" {
			tin["signature_algorithm"] = s.talg
		}
		tsig, err := c.call(ctx, tr("sign/"+s.tkey), tin)
		if err != nil {
			return nil, err
		}
		tver := map[string]any{"input": msg, "signature": str(tsig, "signature")}
		if s.talg != "" {
			tver["signature_algorithm"] = s.talg
		}
		add(&Row{Name: "sign " + s.name,
			KMS:     Request{Path: kms("sign/" + s.key), Body: body(map[string]any{"message": msg, "signing_algorithm": s.alg})},
			Transit: &Request{Path: tr("sign/" + s.tkey), Body: body(tin)}})
		add(&Row{Name: "verify " + s.name,
			KMS: Request{Path: kms("verify/" + s.key), Body: body(map[string]any{"message": msg, "signing_algorithm": s.alg,
				"signature": str(ksig, "signature")})},
			Transit: &Request{Path: tr("verify/" + s.tkey), Body: body(tver)}})
	}

	kmac, err := c.call(ctx, kms("generate-mac/"+keys["hmac"]), map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})
	if err != nil {
		return nil, err
	}
	tmac, err := c.call(ctx, tr("hmac/t-aes/sha2-256"), map[string]any{"input": msg})
	if err != nil {
		return nil, err
	}
	add(&Row{Name: "HMAC_256 generate",
		KMS:     Request{Path: kms("generate-mac/" + keys["hmac"]), Body: body(map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})},
		Transit: &Request{Path: tr("hmac/t-aes/sha2-256"), Body: body(map[string]any{"input": msg})}})
	add(&Row{Name: "HMAC_256 verify",
		KMS: Request{Path: kms("verify-mac/" + keys["hmac"]), Body: body(map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256",
			"mac": str(kmac, "mac")})},
		Transit: &Request{Path: tr("verify/t-aes/sha2-256"), Body: body(map[string]any{"input": msg, "hmac": str(tmac, "hmac")})}})

	add(&Row{Name: "data key AES_256",
		KMS:     Request{Path: kms("data-key/plaintext/" + keys["sym"]), Body: body(map[string]any{"key_spec": "AES_256"})},
		Transit: &Request{Path: tr("datakey/plaintext/t-aes"), Body: body(map[string]any{"bits": 256})}})
	pairPath := kms("data-key-pair/plaintext/" + keys["sym"])
	setPool := func(n int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if _, err := c.call(ctx, kms("config"), map[string]any{"data_key_pair_pool": map[string]any{"RSA_2048": n}}); err != nil {
				return err
			}
			// Measure a full pool: wait for it to fill (RSA generation).
			for deadline := time.Now().Add(5 * time.Minute); n > 0; time.Sleep(200 * time.Millisecond) {
				if time.Now().After(deadline) {
					return fmt.Errorf("the RSA_2048 pool did not fill to %d in 5 minutes", n)
				}
				_, raw, err := c.Do(ctx, Request{Method: "GET", Path: kms("config")})
				if err != nil {
					return err
				}
				var out struct {
					Data struct {
						Ready map[string]int `json:"data_key_pair_pool_ready"`
					} `json:"data"`
				}
				if json.Unmarshal(raw, &out) == nil && out.Data.Ready["RSA_2048"] >= n {
					return nil
				}
			}
			return nil
		}
	}
	add(&Row{Name: "data key pair RSA_2048, no pool",
		KMS: Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "RSA_2048"})}})
	// A pool serves a burst: 15 requests from a full pool of 16.
	add(&Row{Name: "data key pair RSA_2048, pool of 16 (15 requests)",
		KMS:    Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "RSA_2048"})},
		Before: setPool(16), After: setPool(0), MaxOps: 15})
	add(&Row{Name: "data key pair ECC_NIST_P256",
		KMS: Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "ECC_NIST_P256"})}})

	// Batches of 100 items of 1 KiB (encrypt/decrypt) and of RSA signatures.
	const n = 100
	pt := b64(randomBytes(1024))
	kin, tin := make([]any, n), make([]any, n)
	for i := range n {
		kin[i] = map[string]any{"plaintext": pt}
		tin[i] = map[string]any{"plaintext": pt}
	}
	kenc, err := c.call(ctx, kms("encrypt/"+keys["sym"]), map[string]any{"batch_input": kin})
	if err != nil {
		return nil, err
	}
	tenc, err := c.call(ctx, tr("encrypt/t-aes"), map[string]any{"batch_input": tin})
	if err != nil {
		return nil, err
	}
	kdec, tdec := batchOf(kenc, "ciphertext_blob", "ciphertext_blob"), batchOf(tenc, "ciphertext", "ciphertext")
	add(&Row{Name: "batch(100) encrypt 1 KiB", Items: n,
		KMS:     Request{Path: kms("encrypt/" + keys["sym"]), Body: body(map[string]any{"batch_input": kin})},
		Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"batch_input": tin})}})
	add(&Row{Name: "batch(100) decrypt 1 KiB", Items: n,
		KMS:     Request{Path: kms("decrypt/" + keys["sym"]), Body: body(map[string]any{"batch_input": kdec})},
		Transit: &Request{Path: tr("decrypt/t-aes"), Body: body(map[string]any{"batch_input": tdec})}})
	ksign, tsign := make([]any, n), make([]any, n)
	for i := range n {
		ksign[i] = map[string]any{"message": msg}
		tsign[i] = map[string]any{"input": msg}
	}
	add(&Row{Name: "batch(100) sign RSA_2048 PSS", Items: n,
		KMS:     Request{Path: kms("sign/" + keys["rsa"]), Body: body(map[string]any{"signing_algorithm": "RSASSA_PSS_SHA_256", "batch_input": ksign})},
		Transit: &Request{Path: tr("sign/t-rsa"), Body: body(map[string]any{"signature_algorithm": "pss", "batch_input": tsign})}})

	awsPT := b64(randomBytes(1024))
	add(&Row{Name: "AWS endpoint Encrypt 1 KiB",
		KMS: Request{Path: kms("aws"), Body: body(map[string]any{"KeyId": keys["sym"], "Plaintext": awsPT}),
			Header: map[string]string{"X-Amz-Target": "TrentService.Encrypt", "Content-Type": "application/x-amz-json-1.1"}},
		Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"plaintext": awsPT})}})
	return rows, nil
}

func batchOf(data map[string]any, from, to string) []any {
	res, _ := data["batch_results"].([]any)
	out := make([]any, len(res))
	for i, r := range res {
		m, _ := r.(map[string]any)
		out[i] = map[string]any{to: m[from]}
	}
	return out
}

// Measure runs every row at each concurrency against the plugin, the
// floor (the plugin's body echoed) and Transit, and logs progress to w.
// The three are interleaved in slices of the duration, so that a change
// in the machine's load (other jobs) falls on all three alike.
func (c *Client) Measure(ctx context.Context, m Mounts, rows []*Row, conc []int, l Load, w io.Writer) ([]Measured, error) {
	const slices = 4
	var out []Measured
	for _, r := range rows {
		for _, cc := range conc {
			load := l
			load.Concurrency, load.MaxOps = cc, r.MaxOps
			res := Measured{Row: r, Concurrency: cc, HasFloor: m.Floor != "", HasTransit: r.Transit != nil}
			floorReq := Request{Path: m.Floor + "/echo", Body: r.KMS.Body}
			if r.MaxOps > 0 {
				// A finite resource (a pool) is measured once, whole.
				load.Warmup = 0
				if err := c.once(ctx, r.Before); err != nil {
					return nil, err
				}
				res.KMS = c.Run(ctx, r.KMS, load)
				if err := c.once(ctx, r.After); err != nil {
					return nil, err
				}
				if res.HasFloor {
					res.Floor = c.Run(ctx, floorReq, load)
				}
				if res.HasTransit {
					res.Transit = c.Run(ctx, *r.Transit, load)
				}
			} else {
				slice := load
				slice.Duration = max(load.Duration/slices, time.Millisecond)
				var k, f, t []Result
				for i := range slices {
					if i > 0 {
						slice.Warmup = 0
					}
					k = append(k, c.Run(ctx, r.KMS, slice))
					if res.HasFloor {
						f = append(f, c.Run(ctx, floorReq, slice))
					}
					if res.HasTransit {
						t = append(t, c.Run(ctx, *r.Transit, slice))
					}
				}
				res.KMS, res.Floor, res.Transit = merge(k...), merge(f...), merge(t...)
			}
			fmt.Fprintf(w, "%-50s c=%-3d kms %s\n", r.Name, cc, res.KMS)
			if res.HasFloor {
				fmt.Fprintf(w, "%-50s       floor %s\n", "", res.Floor)
			}
			if res.HasTransit {
				fmt.Fprintf(w, "%-50s       transit %s\n", "", res.Transit)
			}
			out = append(out, res)
		}
	}
	return out, nil
}

func (c *Client) once(ctx context.Context, f func(context.Context) error) error {
	if f == nil {
		return nil
	}
	return f(ctx)
}

// Table renders results as a Markdown table. Batch rows count items.
func Table(ms []Measured) string {
	var b strings.Builder
	b.WriteString("| Row | c | plugin ops/s | p50 | p99 | floor ops/s | Transit ops/s | plugin/floor | plugin/Transit |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range ms {
		items := float64(max(m.Row.Items, 1))
		unit := ""
		if m.Row.Items > 1 {
			unit = " items"
		}
		kms := m.KMS.OpsPerSec() * items
		floor, transit, rf, rt := "—", "—", "—", "—"
		if m.HasFloor {
			// The floor echoes the same request body: one echo stands for
			// all of its items.
			f := m.Floor.OpsPerSec() * items
			floor = fmt.Sprintf("%.0f", f)
			if f > 0 {
				rf = fmt.Sprintf("%.2f", kms/f)
			}
		}
		if m.HasTransit {
			t := m.Transit.OpsPerSec() * items
			transit = fmt.Sprintf("%.0f", t)
			if t > 0 {
				rt = fmt.Sprintf("%.2f", kms/t)
			}
		}
		errs := ""
		if n := m.KMS.Errors + m.Floor.Errors + m.Transit.Errors; n > 0 {
			errs = fmt.Sprintf(" (%d errors)", n)
		}
		fmt.Fprintf(&b, "| %s%s | %d | %.0f%s | %s | %s | %s | %s | %s | %s |\n", m.Row.Name, errs, m.Concurrency,
			kms, unit, round(m.KMS.P50), round(m.KMS.P99), floor, transit, rf, rt)
	}
	return b.String()
}
