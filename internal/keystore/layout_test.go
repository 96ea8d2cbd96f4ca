package keystore

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

func TestCheckLayout(t *testing.T) {
	ctx := context.Background()
	s := &logical.InmemStorage{}

	// A node that cannot write only checks: nothing is recorded.
	require.NoError(t, CheckLayout(ctx, s, false))
	raw, err := s.Get(ctx, LayoutKey)
	require.NoError(t, err)
	require.Nil(t, raw)

	// An empty mount gets the current version, which then passes.
	require.NoError(t, CheckLayout(ctx, s, true))
	raw, err = s.Get(ctx, LayoutKey)
	require.NoError(t, err)
	require.Equal(t, "1", string(raw.Value))
	require.NoError(t, CheckLayout(ctx, s, true))
	require.NoError(t, CheckLayout(ctx, s, false))

	// A newer or unknown version is refused, and left as it is.
	for _, v := range []string{"2", "0", "x"} {
		require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: LayoutKey, Value: []byte(v)}))
		err := CheckLayout(ctx, s, true)
		require.ErrorContains(t, err, "refusing to start", v)
		raw, _ := s.Get(ctx, LayoutKey)
		require.Equal(t, v, string(raw.Value))
	}
	require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: LayoutKey, Value: []byte("2")}))
	require.ErrorContains(t, CheckLayout(ctx, s, false), "layout version 2, newer than this plugin's 1")
}
