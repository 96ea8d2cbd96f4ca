package kms

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// raceStorage runs during, once, right after it read the configuration:
// another node's change landing while this node loads.
type raceStorage struct {
	logical.Storage
	during func()
}

func (r *raceStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	e, err := r.Storage.Get(ctx, key)
	if key == configStorageKey && r.during != nil {
		f := r.during
		r.during = nil
		f()
	}
	return e, err
}

// A configuration load that an Invalidate overtook is not cached: the next
// request reads the new configuration (found by the review of the moves;
// the race predates them).
func TestConfigLoadRacingInvalidate(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	tb.ok(logical.UpdateOperation, "config", map[string]any{"account_id": "111111111111"})
	tb.backend.invalidate(ctx, configStorageKey) // this node forgets its copy
	s := &raceStorage{Storage: tb.storage}
	s.during = func() {
		next, err := logical.StorageEntryJSON(configStorageKey, &configEntry{AccountID: "222222222222"})
		require.NoError(t, err)
		require.NoError(t, tb.storage.Put(ctx, next))
		tb.backend.invalidate(ctx, configStorageKey)
	}
	c, err := tb.backend.config(ctx, s)
	require.NoError(t, err)
	require.Equal(t, "111111111111", c.AccountID, "the racing load answers what it read")
	c, err = tb.backend.config(ctx, tb.storage)
	require.NoError(t, err)
	require.Equal(t, "222222222222", c.AccountID, "the configuration the Invalidate announced")
}
