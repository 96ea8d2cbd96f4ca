package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
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
)

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
