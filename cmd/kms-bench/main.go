// Command kms-bench is the closed-loop load generator of `make bench`.
//
//	kms-bench run    -path kms/encrypt/<key> -body '{"plaintext":"..."}' -c 16 -d 10s
//	kms-bench suite  -hsm cluster-kmsbenchsofthsm -c 1,16 -d 3s -update BENCHMARKS.md
//	kms-bench memory -pid <plugin pid> -pprof 127.0.0.1:6061 -update BENCHMARKS.md
//
// VAULT_ADDR and VAULT_TOKEN name the server. `run` prints ops/s, p50 and
// p99 of one request; `suite` creates keys on the KMS plugin and Transit
// (and a custom key store with a key on the HSM connection -hsm, whose
// token's PIN is in KMS_BENCH_HSM_PIN) and measures the table of
// BENCHMARKS.md against the floor plugin's echo and Transit; `memory`
// drives large batches and reports the plugin's heap and RSS.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openkms/vault-plugin-kms/internal/bench"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "suite":
		err = suite(os.Args[2:])
	case "memory":
		err = memory(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kms-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kms-bench run|suite|memory [flags] (see -h of each)")
	os.Exit(2)
}

func client(c int) (*bench.Client, error) {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		return nil, fmt.Errorf("set VAULT_ADDR and VAULT_TOKEN")
	}
	return bench.NewClient(strings.TrimRight(addr, "/"), token, c), nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	path := fs.String("path", "", "Vault path, without /v1/ (required)")
	bodyArg := fs.String("body", "{}", "JSON body, or @file")
	header := fs.String("header", "", "extra header, Name:value")
	c := fs.Int("c", 1, "concurrency (closed-loop clients)")
	d := fs.Duration("d", 5*time.Second, "duration")
	warmup := fs.Duration("warmup", time.Second, "warm-up before measuring")
	_ = fs.Parse(args)
	if *path == "" {
		return fmt.Errorf("-path is required")
	}
	body := []byte(*bodyArg)
	if strings.HasPrefix(*bodyArg, "@") {
		var err error
		if body, err = os.ReadFile((*bodyArg)[1:]); err != nil {
			return err
		}
	}
	cl, err := client(*c)
	if err != nil {
		return err
	}
	req := bench.Request{Path: *path, Body: body}
	if k, v, ok := strings.Cut(*header, ":"); ok {
		req.Header = map[string]string{strings.TrimSpace(k): strings.TrimSpace(v)}
	}
	fmt.Println(cl.Run(context.Background(), req, bench.Load{Concurrency: *c, Duration: *d, Warmup: *warmup}))
	return nil
}

func suite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	conc := fs.String("c", "1,16", "concurrencies, comma-separated")
	d := fs.Duration("d", 3*time.Second, "duration of each measurement")
	warmup := fs.Duration("warmup", 500*time.Millisecond, "warm-up before each measurement")
	kms := fs.String("kms", "kms", "mount of the KMS plugin")
	transit := fs.String("transit", "transit", "mount of Transit")
	floor := fs.String("floor", "floor", "mount of the floor plugin (empty: none)")
	hsm := fs.String("hsm", "", "HSM connection (kms/config/hsm/<name>) for the SoftHSM2 row (required; the PIN in "+bench.HSMPINEnv+")")
	only := fs.String("only", "", "run only rows whose name contains this")
	update := fs.String("update", "", "write the table into this Markdown file")
	block := fs.String("block", "table", "name of the block to write in that file")
	_ = fs.Parse(args)
	var cs []int
	maxC := 1
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad concurrency %q", s)
		}
		cs = append(cs, n)
		maxC = max(maxC, n)
	}
	cl, err := client(maxC)
	if err != nil {
		return err
	}
	ctx := context.Background()
	load := bench.LoadAvg()
	m := bench.Mounts{KMS: *kms, Transit: *transit, Floor: *floor, HSM: bench.HSMFromEnv(*hsm)}
	rows, err := cl.Rows(ctx, m)
	if err != nil {
		return err
	}
	if *only != "" {
		var keep []*bench.Row
		for _, r := range rows {
			if strings.Contains(r.Name, *only) {
				keep = append(keep, r)
			}
		}
		rows = keep
	}
	res, err := cl.Measure(ctx, m, rows, cs, bench.Load{Duration: *d, Warmup: *warmup}, os.Stderr)
	if err != nil {
		return err
	}
	table := bench.Table(res)
	stamp := bench.Stamp(ctx, cl, load) + fmt.Sprintf("Each cell: %s closed-loop per engine, in 4 slices interleaved with the other engines, after %s of warm-up.\n", *d, *warmup)
	fmt.Println(stamp)
	fmt.Println(table)
	if *update != "" {
		return bench.ReplaceBlock(*update, *block, stamp+"\n"+table)
	}
	return nil
}

func memory(args []string) error {
	fs := flag.NewFlagSet("memory", flag.ExitOnError)
	pid := fs.Int("pid", 0, "the plugin's process id (required)")
	pprofAddr := fs.String("pprof", "", "the plugin's VAULT_KMS_PPROF_ADDR, for heap figures")
	kms := fs.String("kms", "kms", "mount of the KMS plugin")
	batches := fs.Int("batches", 100, "number of batch requests")
	items := fs.Int("items", 1000, "items per batch")
	size := fs.Int("size", 4096, "plaintext bytes per item")
	idle := fs.Duration("idle", 30*time.Second, "idle time before the last reading")
	update := fs.String("update", "", "write the figures into this Markdown file")
	block := fs.String("block", "memory", "name of the block to write in that file")
	_ = fs.Parse(args)
	if *pid == 0 {
		return fmt.Errorf("-pid is required")
	}
	cl, err := client(1)
	if err != nil {
		return err
	}
	ctx := context.Background()
	load := bench.LoadAvg()
	var lines []string
	reading := func(when string) error {
		rss, hwm, err := bench.ProcStatus(*pid)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("| %s | %s | %s |", when, bench.MiB(rss), bench.MiB(hwm))
		if *pprofAddr != "" {
			h, err := bench.HeapStats(ctx, *pprofAddr)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %s | %s | %s |", bench.MiB(h["HeapAlloc"]), bench.MiB(h["HeapSys"]), bench.MiB(h["HeapReleased"]))
		} else {
			line += " — | — | — |"
		}
		fmt.Fprintln(os.Stderr, line)
		lines = append(lines, line)
		return nil
	}
	body, err := cl.BatchEncryptBody(ctx, *kms, *items, *size)
	if err != nil {
		return err
	}
	if err := reading("before"); err != nil {
		return err
	}
	for i := range *batches {
		r := cl.Run(ctx, body, bench.Load{Concurrency: 1, Duration: 10 * time.Minute, MaxOps: 1})
		if r.Errors > 0 {
			return fmt.Errorf("batch %d: %s", i, r.FirstErr)
		}
		if i == 0 {
			if err := reading("after 1 batch"); err != nil {
				return err
			}
		}
	}
	if err := reading(fmt.Sprintf("after %d batches", *batches)); err != nil {
		return err
	}
	time.Sleep(*idle)
	if err := reading(fmt.Sprintf("%s idle later", *idle)); err != nil {
		return err
	}
	limit := os.Getenv("VAULT_KMS_MEMORY_LIMIT")
	if limit == "" {
		limit = "none"
	}
	out := bench.Stamp(ctx, cl, load) + fmt.Sprintf("\n%d sequential batch encrypts of %d items x %d bytes; VAULT_KMS_MEMORY_LIMIT %s.\n\n", *batches, *items, *size, limit) +
		"| when | RSS | peak RSS (VmHWM) | heap in use (HeapAlloc) | heap from OS (HeapSys) | heap returned (HeapReleased) |\n|---|---:|---:|---:|---:|---:|\n" +
		strings.Join(lines, "\n") + "\n"
	fmt.Println(out)
	if *update != "" {
		return bench.ReplaceBlock(*update, *block, out)
	}
	return nil
}
