package kms

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// clockBackend is a backend as Vault builds it (Factory, then Initialize)
// on the given storage, with the plugin's own clock: the test clock hook is
// about that clock, so it is not replaced as newTestBackend does.
func clockBackend(t *testing.T, s logical.Storage) *testBackend {
	t.Helper()
	conf := logical.TestBackendConfig()
	conf.StorageView = s
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	b := raw.(*backend)
	require.NoError(t, b.Initialize(context.Background(), &logical.InitializationRequest{Storage: s}))
	t.Cleanup(func() { b.Cleanup(context.Background()) })
	return &testBackend{backend: b, t: t, storage: s}
}

// requireAbout checks that got is want give or take a few seconds of test
// time (the clock is the system clock plus an offset).
func requireAbout(t *testing.T, want, got time.Time) {
	t.Helper()
	require.WithinDuration(t, want, got, 10*time.Second)
}

func TestTestClockAbsentWithoutTheVariable(t *testing.T) {
	for _, v := range []string{"", "0", "false", "yes please"} {
		t.Setenv(testClockEnv, v)
		s := &logical.InmemStorage{}
		// An offset left in storage (by a test build) changes nothing.
		entry, err := logical.StorageEntryJSON(testClockStorageKey, &testClockEntry{Offset: 400 * 24 * time.Hour})
		require.NoError(t, err)
		require.NoError(t, s.Put(context.Background(), entry))
		tb := clockBackend(t, s)

		for _, op := range []logical.Operation{logical.ReadOperation, logical.UpdateOperation, logical.DeleteOperation} {
			_, err := tb.do(op, testClockPath, map[string]any{"offset": 60})
			require.True(t, errors.Is(err, logical.ErrUnsupportedPath), "%q %s: %v", v, op, err)
		}
		require.NotContains(t, tb.SpecialPaths().Root, testClockPath)
		requireAbout(t, time.Now(), tb.now())
		tb.invalidate(context.Background(), testClockStorageKey)
		requireAbout(t, time.Now(), tb.now())
		for _, p := range tb.Backend.Paths {
			require.NotEqual(t, testClockPath+"$", p.Pattern, "%q", v)
		}
	}
}

func TestTestClock(t *testing.T) {
	t.Setenv(testClockEnv, "1")
	s := &logical.InmemStorage{}
	tb := clockBackend(t, s)
	require.Contains(t, tb.SpecialPaths().Root, testClockPath, "the hook needs sudo")

	got := tb.ok(logical.ReadOperation, testClockPath, nil)
	require.EqualValues(t, 0, got["offset_seconds"])

	// Bad offsets are refused with the exception, and change nothing.
	for _, bad := range []any{-1, "-5d", "-1h", "soon", "1.5d", 101 * 365 * 86400, "36501d", "900000h", "99999999999999999999"} {
		tb.fails(kmserr.Validation, logical.UpdateOperation, testClockPath, map[string]any{"offset": bad})
	}
	tb.fails(kmserr.Validation, logical.UpdateOperation, testClockPath, nil)
	requireAbout(t, time.Now(), tb.now())

	for in, want := range map[any]int64{"3600": 3600, 7200: 7200, "2160h": 90 * 86400, "0": 0} {
		require.EqualValues(t, want, tb.ok(logical.UpdateOperation, testClockPath, map[string]any{"offset": in})["offset_seconds"], "%v", in)
	}
	got = tb.ok(logical.UpdateOperation, testClockPath, map[string]any{"offset": "90d"})
	require.EqualValues(t, 90*86400, got["offset_seconds"])
	requireAbout(t, time.Now().Add(90*24*time.Hour), tb.now())
	now, err := time.Parse(time.RFC3339Nano, got["now"].(string))
	require.NoError(t, err)
	requireAbout(t, time.Now().Add(90*24*time.Hour), now)

	// A node that starts on the same storage (the new active node after a
	// failover) runs on the same clock.
	other := clockBackend(t, s)
	requireAbout(t, time.Now().Add(90*24*time.Hour), other.now())

	// A change made by one node reaches the other through Invalidate.
	tb.ok(logical.UpdateOperation, testClockPath, map[string]any{"offset": 3600})
	requireAbout(t, time.Now().Add(90*24*time.Hour), other.now())
	other.invalidate(context.Background(), testClockStorageKey)
	requireAbout(t, time.Now().Add(time.Hour), other.now())

	tb.ok(logical.DeleteOperation, testClockPath, nil)
	requireAbout(t, time.Now(), tb.now())
	other.invalidate(context.Background(), testClockStorageKey)
	requireAbout(t, time.Now(), other.now())
	raw, err := s.Get(context.Background(), testClockStorageKey)
	require.NoError(t, err)
	require.Nil(t, raw)
}

// The hook drives the periodic work: moving the clock past a rotation date
// and a deletion date makes one periodic run rotate the key once and
// destroy the other; a second run changes nothing.
func TestTestClockDrivesPeriodicWork(t *testing.T) {
	t.Setenv(testClockEnv, "1")
	tb := clockBackend(t, &logical.InmemStorage{})
	rotated := tb.ok(logical.UpdateOperation, "keys", nil)["key_id"].(string)
	tb.ok(logical.UpdateOperation, "keys/"+rotated+"/rotation", map[string]any{"rotation_period_days": 90})
	deleted := tb.ok(logical.UpdateOperation, "keys", nil)["key_id"].(string)
	tb.ok(logical.UpdateOperation, "keys/"+deleted+"/schedule-deletion", map[string]any{"pending_window_days": 7})

	run := func() {
		require.NoError(t, tb.periodic(context.Background(), &logical.Request{Storage: tb.storage}))
	}
	run()
	require.EqualValues(t, 1, tb.ok(logical.ReadOperation, "keys/"+rotated, nil)["current_key_version"])
	require.Equal(t, "PendingDeletion", tb.ok(logical.ReadOperation, "keys/"+deleted, nil)["key_state"])

	tb.ok(logical.UpdateOperation, testClockPath, map[string]any{"offset": "91d"})
	run()
	run()
	require.EqualValues(t, 2, tb.ok(logical.ReadOperation, "keys/"+rotated, nil)["current_key_version"])
	tb.fails(kmserr.NotFound, logical.ReadOperation, "keys/"+deleted, nil)
}
