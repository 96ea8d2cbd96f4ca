package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
)

// Environment variables the plugin reads. Vault passes its own environment
// to plugins, and `vault plugin register -env NAME=value` adds more.
const (
	// envLogLevel sets the plugin's log level (trace, debug, info, warn,
	// error). Without it the plugin follows VAULT_LOG_LEVEL, and else logs
	// at info: the SDK's default is trace, which JSON-encodes every debug
	// line and ships it to Vault over stderr even when Vault drops it.
	envLogLevel = "VAULT_KMS_LOG_LEVEL"
	// envPprof, when set to a host:port, serves Go's pprof handlers there
	// (off by default). Bind it to loopback: profiles show code paths and
	// timings, and the listener has no authentication.
	envPprof = "VAULT_KMS_PPROF_ADDR"
	// envMemoryLimit is the plugin's soft memory limit, in GOMEMLIMIT's
	// syntax (for example 256MiB). GOMEMLIMIT itself would also bind Vault,
	// whose environment the plugin inherits; this one binds the plugin only.
	envMemoryLimit = "VAULT_KMS_MEMORY_LIMIT"
)

// setMemoryLimit applies envMemoryLimit. Go then collects garbage and
// returns freed memory to the OS before the process grows past the limit,
// instead of letting the heap reach twice its live size after a burst of
// large batches.
func setMemoryLimit(logger hclog.Logger) {
	v := strings.TrimSpace(os.Getenv(envMemoryLimit))
	if v == "" {
		return
	}
	n, err := parseBytes(v)
	if err != nil {
		logger.Error("memory limit not set", "value", v, "error", err)
		return
	}
	debug.SetMemoryLimit(n)
	logger.Info("memory limit set", "bytes", n)
}

// parseBytes reads a byte count with an optional B, KiB, MiB, GiB or TiB
// suffix, as GOMEMLIMIT does.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive number of bytes with an optional B, KiB, MiB, GiB or TiB suffix")
	}
	return n * mult, nil
}

// pluginLogger is the logger handed to the SDK, in the SDK's format (JSON on
// stderr, which Vault parses) at the configured level.
func pluginLogger() hclog.Logger {
	name := os.Getenv(envLogLevel)
	if name == "" {
		name = os.Getenv("VAULT_LOG_LEVEL")
	}
	level := hclog.LevelFromString(strings.TrimSpace(name))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Level: level, Output: os.Stderr, JSONFormat: true})
}

// servePprof starts the opt-in profiling listener.
func servePprof(logger hclog.Logger) {
	addr := os.Getenv(envPprof)
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("pprof listener not started", "address", addr, "error", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("pprof listening", "address", l.Addr().String())
	go func() { _ = http.Serve(l, mux) }()
}
