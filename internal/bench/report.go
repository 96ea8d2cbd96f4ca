package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened, for the report.
func Machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// LoadAvg is /proc/loadavg's three averages.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// VaultVersion asks the server.
func (c *Client) VaultVersion(ctx context.Context) string {
	r, err := c.HTTP.Get(c.Addr + "/v1/sys/seal-status")
	if err != nil {
		return "unknown"
	}
	defer r.Body.Close()
	var s struct {
		Version string `json:"version"`
	}
	if json.NewDecoder(r.Body).Decode(&s) != nil {
		return "unknown"
	}
	return s.Version
}

// ReplaceBlock rewrites the text between <!-- bench:NAME:begin --> and
// <!-- bench:NAME:end --> in file (appending the block if it is missing),
// so the generated figures sit beside hand-written analysis.
func ReplaceBlock(file, name, content string) error {
	begin, end := "<!-- bench:"+name+":begin -->", "<!-- bench:"+name+":end -->"
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	block := begin + "\n" + strings.TrimRight(content, "\n") + "\n" + end
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i >= 0 && j > i {
		text = text[:i] + block + text[j+len(end):]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(file, []byte(text), 0o644)
}

// Stamp is the header of a generated block.
func Stamp(ctx context.Context, c *Client, loadBefore string) string {
	return fmt.Sprintf("Measured %s on %s; Vault %s; load average (1/5/15 min) %s before, %s after.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), Machine(), c.VaultVersion(ctx), loadBefore, LoadAvg())
}
