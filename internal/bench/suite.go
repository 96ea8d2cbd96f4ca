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

// Mounts names where the three engines are mounted, and the token behind
// the plugin's SoftHSM2 row.
type Mounts struct {
	KMS, Transit, Floor string
	HSM                 HSM
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
	return c.send(ctx, Request{Path: path, Body: body(v)})
}

// send sends req, which must succeed, and decodes its data.
func (c *Client) send(ctx context.Context, req Request) (map[string]any, error) {
	status, raw, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return decodeData(req.Path, status, raw)
}

func decodeData(path string, status int, raw []byte) (map[string]any, error) {
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

// rowSet builds the table's rows: the keys made on both engines (and in
// the token), the
// message signed and MACed, and the rows so far, in table order.
type rowSet struct {
	c    *Client
	m    Mounts
	keys map[string]string // KMS key ids by role: sym, hsm, rsa, ecc, hmac
	msg  string
	rows []*Row
}

func (s *rowSet) kms(p string) string { return s.m.KMS + "/" + p }
func (s *rowSet) tr(p string) string  { return s.m.Transit + "/" + p }
func (s *rowSet) add(r *Row)          { s.rows = append(s.rows, r) }

// Rows creates the keys the benchmark needs on both engines and returns
// the table's rows. It refuses to run without m.HSM.
func (c *Client) Rows(ctx context.Context, m Mounts) ([]*Row, error) {
	if m.HSM.Connection == "" {
		return nil, errNoHSM
	}
	s := &rowSet{c: c, m: m, keys: map[string]string{},
		msg: b64([]byte("the quick brown fox jumps over the lazy dog"))}
	// Each family adds its rows in table order.
	for _, family := range []func(context.Context) error{
		s.createKeys, s.createHSMKey, s.cipherRows, s.signRows, s.macRows, s.dataKeyRows, s.batchRows,
	} {
		if err := family(ctx); err != nil {
			return nil, err
		}
	}
	s.awsRow()
	return s.rows, nil
}

// createKeys makes the plugin's keys (ids kept in s.keys) and Transit's.
func (s *rowSet) createKeys(ctx context.Context) error {
	for name, spec := range map[string]map[string]any{
		"sym":  {"description": "bench"},
		"rsa":  {"key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"},
		"ecc":  {"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY"},
		"hmac": {"key_spec": "HMAC_256", "key_usage": "GENERATE_VERIFY_MAC"},
	} {
		out, err := s.c.call(ctx, s.kms("keys"), spec)
		if err != nil {
			return err
		}
		s.keys[name] = str(out, "key_id")
	}
	for name, typ := range map[string]string{"t-aes": "aes256-gcm96", "t-rsa": "rsa-2048", "t-ecc": "ecdsa-p256"} {
		if _, err := s.c.call(ctx, s.tr("keys/"+name), map[string]any{"type": typ}); err != nil {
			return err
		}
	}
	return nil
}

// cipherRows: encrypt and decrypt of 1 and 4 KiB, and encrypt of 1 KiB
// with the key in the token (same body, other key).
func (s *rowSet) cipherRows(ctx context.Context) error {
	kms, tr, keys := s.kms, s.tr, s.keys
	for _, size := range []int{1024, 4096} {
		pt := b64(randomBytes(size))
		kct, err := s.c.call(ctx, kms("encrypt/"+keys["sym"]), map[string]any{"plaintext": pt})
		if err != nil {
			return err
		}
		tct, err := s.c.call(ctx, tr("encrypt/t-aes"), map[string]any{"plaintext": pt})
		if err != nil {
			return err
		}
		kib := fmt.Sprintf("%d KiB", size/1024)
		s.add(&Row{Name: "encrypt " + kib,
			KMS:     Request{Path: kms("encrypt/" + keys["sym"]), Body: body(map[string]any{"plaintext": pt})},
			Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"plaintext": pt})}})
		if size == 1024 {
			s.add(&Row{Name: HSMRowName,
				KMS:     Request{Path: kms("encrypt/" + keys["hsm"]), Body: body(map[string]any{"plaintext": pt})},
				Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"plaintext": pt})}})
		}
		s.add(&Row{Name: "decrypt " + kib,
			KMS:     Request{Path: kms("decrypt/" + keys["sym"]), Body: body(map[string]any{"ciphertext_blob": str(kct, "ciphertext_blob")})},
			Transit: &Request{Path: tr("decrypt/t-aes"), Body: body(map[string]any{"ciphertext": str(tct, "ciphertext")})}})
	}
	return nil
}

// signRows: sign and verify with RSA_2048 PSS and ECC_NIST_P256.
func (s *rowSet) signRows(ctx context.Context) error {
	kms, tr, keys, msg := s.kms, s.tr, s.keys, s.msg
	for _, k := range []struct{ name, key, tkey, alg, talg string }{
		{"RSA_2048 PSS", keys["rsa"], "t-rsa", "RSASSA_PSS_SHA_256", "pss"},
		{"ECC_NIST_P256", keys["ecc"], "t-ecc", "ECDSA_SHA_256", ""},
	} {
		ksig, err := s.c.call(ctx, kms("sign/"+k.key), map[string]any{"message": msg, "signing_algorithm": k.alg})
		if err != nil {
			return err
		}
		tin := map[string]any{"input": msg}
		if k.talg != "" {
			tin["signature_algorithm"] = k.talg
		}
		tsig, err := s.c.call(ctx, tr("sign/"+k.tkey), tin)
		if err != nil {
			return err
		}
		tver := map[string]any{"input": msg, "signature": str(tsig, "signature")}
		if k.talg != "" {
			tver["signature_algorithm"] = k.talg
		}
		s.add(&Row{Name: "sign " + k.name,
			KMS:     Request{Path: kms("sign/" + k.key), Body: body(map[string]any{"message": msg, "signing_algorithm": k.alg})},
			Transit: &Request{Path: tr("sign/" + k.tkey), Body: body(tin)}})
		s.add(&Row{Name: "verify " + k.name,
			KMS: Request{Path: kms("verify/" + k.key), Body: body(map[string]any{"message": msg, "signing_algorithm": k.alg,
				"signature": str(ksig, "signature")})},
			Transit: &Request{Path: tr("verify/" + k.tkey), Body: body(tver)}})
	}
	return nil
}

// macRows: HMAC_256 generate and verify.
func (s *rowSet) macRows(ctx context.Context) error {
	kms, tr, keys, msg := s.kms, s.tr, s.keys, s.msg
	kmac, err := s.c.call(ctx, kms("generate-mac/"+keys["hmac"]), map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})
	if err != nil {
		return err
	}
	tmac, err := s.c.call(ctx, tr("hmac/t-aes/sha2-256"), map[string]any{"input": msg})
	if err != nil {
		return err
	}
	s.add(&Row{Name: "HMAC_256 generate",
		KMS:     Request{Path: kms("generate-mac/" + keys["hmac"]), Body: body(map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256"})},
		Transit: &Request{Path: tr("hmac/t-aes/sha2-256"), Body: body(map[string]any{"input": msg})}})
	s.add(&Row{Name: "HMAC_256 verify",
		KMS: Request{Path: kms("verify-mac/" + keys["hmac"]), Body: body(map[string]any{"message": msg, "mac_algorithm": "HMAC_SHA_256",
			"mac": str(kmac, "mac")})},
		Transit: &Request{Path: tr("verify/t-aes/sha2-256"), Body: body(map[string]any{"input": msg, "hmac": str(tmac, "hmac")})}})
	return nil
}

// dataKeyRows: a data key, and data key pairs with and without the pool.
func (s *rowSet) dataKeyRows(context.Context) error {
	s.add(&Row{Name: "data key AES_256",
		KMS:     Request{Path: s.kms("data-key/plaintext/" + s.keys["sym"]), Body: body(map[string]any{"key_spec": "AES_256"})},
		Transit: &Request{Path: s.tr("datakey/plaintext/t-aes"), Body: body(map[string]any{"bits": 256})}})
	pairPath := s.kms("data-key-pair/plaintext/" + s.keys["sym"])
	s.add(&Row{Name: "data key pair RSA_2048, no pool",
		KMS: Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "RSA_2048"})}})
	// A pool serves a burst: 15 requests from a full pool of 16.
	s.add(&Row{Name: "data key pair RSA_2048, pool of 16 (15 requests)",
		KMS:    Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "RSA_2048"})},
		Before: s.setPool(16), After: s.setPool(0), MaxOps: 15})
	s.add(&Row{Name: "data key pair ECC_NIST_P256",
		KMS: Request{Path: pairPath, Body: body(map[string]any{"key_pair_spec": "ECC_NIST_P256"})}})
	return nil
}

// setPool returns a step that sets the RSA_2048 data key pair pool to n
// and waits until it is full.
func (s *rowSet) setPool(n int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if _, err := s.c.call(ctx, s.kms("config"), map[string]any{"data_key_pair_pool": map[string]any{"RSA_2048": n}}); err != nil {
			return err
		}
		// Measure a full pool: wait for it to fill (RSA generation).
		for deadline := time.Now().Add(5 * time.Minute); n > 0; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the RSA_2048 pool did not fill to %d in 5 minutes", n)
			}
			_, raw, err := s.c.Do(ctx, Request{Method: "GET", Path: s.kms("config")})
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

// batchRows: batches of 100 items of 1 KiB (encrypt/decrypt) and of RSA
// signatures.
func (s *rowSet) batchRows(ctx context.Context) error {
	kms, tr, keys, msg := s.kms, s.tr, s.keys, s.msg
	const n = 100
	pt := b64(randomBytes(1024))
	kin, tin := make([]any, n), make([]any, n)
	for i := range n {
		kin[i] = map[string]any{"plaintext": pt}
		tin[i] = map[string]any{"plaintext": pt}
	}
	kenc, err := s.c.call(ctx, kms("encrypt/"+keys["sym"]), map[string]any{"batch_input": kin})
	if err != nil {
		return err
	}
	tenc, err := s.c.call(ctx, tr("encrypt/t-aes"), map[string]any{"batch_input": tin})
	if err != nil {
		return err
	}
	kdec, tdec := batchOf(kenc, "ciphertext_blob", "ciphertext_blob"), batchOf(tenc, "ciphertext", "ciphertext")
	s.add(&Row{Name: "batch(100) encrypt 1 KiB", Items: n,
		KMS:     Request{Path: kms("encrypt/" + keys["sym"]), Body: body(map[string]any{"batch_input": kin})},
		Transit: &Request{Path: tr("encrypt/t-aes"), Body: body(map[string]any{"batch_input": tin})}})
	s.add(&Row{Name: "batch(100) decrypt 1 KiB", Items: n,
		KMS:     Request{Path: kms("decrypt/" + keys["sym"]), Body: body(map[string]any{"batch_input": kdec})},
		Transit: &Request{Path: tr("decrypt/t-aes"), Body: body(map[string]any{"batch_input": tdec})}})
	ksign, tsign := make([]any, n), make([]any, n)
	for i := range n {
		ksign[i] = map[string]any{"message": msg}
		tsign[i] = map[string]any{"input": msg}
	}
	s.add(&Row{Name: "batch(100) sign RSA_2048 PSS", Items: n,
		KMS:     Request{Path: kms("sign/" + keys["rsa"]), Body: body(map[string]any{"signing_algorithm": "RSASSA_PSS_SHA_256", "batch_input": ksign})},
		Transit: &Request{Path: tr("sign/t-rsa"), Body: body(map[string]any{"signature_algorithm": "pss", "batch_input": tsign})}})
	return nil
}

// awsRow: Encrypt through the AWS KMS JSON protocol endpoint.
func (s *rowSet) awsRow() {
	awsPT := b64(randomBytes(1024))
	s.add(&Row{Name: "AWS endpoint Encrypt 1 KiB",
		KMS: Request{Path: s.kms("aws"), Body: body(map[string]any{"KeyId": s.keys["sym"], "Plaintext": awsPT}),
			Header: map[string]string{"X-Amz-Target": "TrentService.Encrypt", "Content-Type": "application/x-amz-json-1.1"}},
		Transit: &Request{Path: s.tr("encrypt/t-aes"), Body: body(map[string]any{"plaintext": awsPT})}})
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
