package main

import (
	"io"
	"net"
	"net/http"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

func TestPluginLoggerLevel(t *testing.T) {
	for _, c := range []struct {
		own, vault string
		want       hclog.Level
	}{
		{"", "", hclog.Info}, // not the SDK's trace
		{"", "debug", hclog.Debug},
		{"warn", "debug", hclog.Warn},
		{"nonsense", "", hclog.Info},
	} {
		t.Setenv(envLogLevel, c.own)
		t.Setenv("VAULT_LOG_LEVEL", c.vault)
		require.Equal(t, c.want, pluginLogger().GetLevel(), "%+v", c)
	}
}

func TestPprofIsOptIn(t *testing.T) {
	t.Setenv(envPprof, "")
	servePprof(hclog.NewNullLogger()) // nothing to listen on: must not start

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv(envPprof, addr)
	servePprof(hclog.NewNullLogger())
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "goroutine profile")
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "1000": 1000, "12B": 12, "4KiB": 4096} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MiB", "-1MiB", "0", "12MB", "lots", "99999999999TiB"} {
		_, err := parseBytes(in)
		require.Error(t, err, in)
	}
}
