package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// ProcStatus returns a process's VmRSS and VmHWM in bytes.
func ProcStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			hwm = n * 1024
		}
	}
	return rss, hwm, s.Err()
}

// HeapStats reads runtime.MemStats lines (HeapAlloc, HeapInuse, HeapSys,
// HeapReleased, ...) from a pprof listener's heap page.
func HeapStats(ctx context.Context, pprofAddr string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/heap?debug=1", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// MiB formats bytes.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// BatchEncryptBody creates a key and returns a batch encrypt of items
// random plaintexts of size bytes under it.
func (c *Client) BatchEncryptBody(ctx context.Context, mount string, items, size int) (Request, error) {
	out, err := c.call(ctx, mount+"/keys", map[string]any{"description": "memory benchmark"})
	if err != nil {
		return Request{}, err
	}
	in := make([]any, items)
	for i := range in {
		in[i] = map[string]any{"plaintext": b64(randomBytes(size))}
	}
	return Request{Path: mount + "/encrypt/" + str(out, "key_id"), Body: body(map[string]any{"batch_input": in})}, nil
}
