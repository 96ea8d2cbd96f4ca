// Package bench is the closed-loop HTTP load generator behind `make bench`
// (cmd/kms-bench): it drives Vault paths with a fixed number of clients,
// each sending its next request when the previous answer arrives, and
// reports throughput and latency percentiles.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Client talks to one Vault server.
type Client struct {
	Addr  string // http://host:port
	Token string
	HTTP  *http.Client
}

// NewClient returns a client whose connection pool fits concurrency c.
func NewClient(addr, token string, c int) *Client {
	tr := &http.Transport{MaxIdleConns: c * 2, MaxIdleConnsPerHost: c * 2, IdleConnTimeout: time.Minute}
	return &Client{Addr: addr, Token: token, HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// Request is one Vault API call, against /v1/<Path>.
type Request struct {
	Method string // POST if empty
	Path   string
	Body   []byte
	Header map[string]string
}

// Do sends req once and returns the status and body.
func (c *Client) Do(ctx context.Context, req Request) (int, []byte, error) {
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequestWithContext(ctx, method, c.Addr+"/v1/"+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		return 0, nil, err
	}
	r.Header.Set("X-Vault-Token", c.Token)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range req.Header {
		r.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Load is how a request is driven.
type Load struct {
	Concurrency int
	Duration    time.Duration
	// MaxOps, if positive, ends the run after that many requests (for
	// rows that measure a finite resource, such as a pre-filled pool).
	MaxOps int
	// Warmup runs before measuring, to open connections and fill caches.
	Warmup time.Duration
}

// Result is what a run measured. Failed requests are counted apart and
// excluded from throughput and latency.
type Result struct {
	Ops      int
	Errors   int
	FirstErr string
	Elapsed  time.Duration
	P50, P99 time.Duration
	lat      []time.Duration // sorted
}

// merge adds up runs of the same request (the slices of an interleaved
// measurement).
func merge(rs ...Result) Result {
	var out Result
	for _, r := range rs {
		out.Ops += r.Ops
		out.Errors += r.Errors
		if out.FirstErr == "" {
			out.FirstErr = r.FirstErr
		}
		out.Elapsed += r.Elapsed
		out.lat = append(out.lat, r.lat...)
	}
	out.percentiles()
	return out
}

func (r *Result) percentiles() {
	if len(r.lat) == 0 {
		return
	}
	slices.Sort(r.lat)
	r.P50 = r.lat[len(r.lat)*50/100]
	r.P99 = r.lat[min(len(r.lat)*99/100, len(r.lat)-1)]
}

// OpsPerSec is successful requests per second.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	s := fmt.Sprintf("%9.1f ops/s  p50 %8s  p99 %8s  (%d ops)", r.OpsPerSec(), round(r.P50), round(r.P99), r.Ops)
	if r.Errors > 0 {
		s += fmt.Sprintf("  %d ERRORS, first: %s", r.Errors, r.FirstErr)
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Run drives req with l.Concurrency closed-loop clients.
func (c *Client) Run(ctx context.Context, req Request, l Load) Result {
	if l.Concurrency < 1 {
		l.Concurrency = 1
	}
	if l.Warmup > 0 {
		c.run(ctx, req, Load{Concurrency: l.Concurrency, Duration: l.Warmup, MaxOps: l.MaxOps})
	}
	return c.run(ctx, req, l)
}

// run stops sending when l.Duration is over; requests in flight then
// complete and count, so each client measures at least one request.
func (c *Client) run(ctx context.Context, req Request, l Load) Result {
	deadline := time.Now().Add(l.Duration)
	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
		budget   = make(chan struct{}, max(l.MaxOps, 1))
	)
	for range max(l.MaxOps, 0) {
		budget <- struct{}{}
	}
	start := time.Now()
	for range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			n, firstLocal := 0, ""
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if l.MaxOps > 0 {
					select {
					case <-budget:
					default:
						goto done
					}
				}
				t0 := time.Now()
				status, body, err := c.Do(ctx, req)
				d := time.Since(t0)
				if err == nil && status >= 300 {
					err = fmt.Errorf("HTTP %d: %.200s", status, body)
				}
				if err != nil {
					n++
					if firstLocal == "" {
						firstLocal = err.Error()
					}
					continue
				}
				lat = append(lat, d)
			}
		done:
			mu.Lock()
			all = append(all, lat...)
			errs += n
			if firstErr == "" {
				firstErr = firstLocal
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := Result{Ops: len(all), Errors: errs, FirstErr: firstErr, Elapsed: time.Since(start), lat: all}
	r.percentiles()
	return r
}
