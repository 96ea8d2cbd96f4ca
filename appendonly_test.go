package kms

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// Key material versions are append-only: putKey refuses to replace or
// drop a stored version, whatever the caller's entry says.
func TestPutKeyAppendOnly(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	id := tb.createKey(nil)
	stored, err := readKey(ctx, tb.storage, id, nil)
	require.NoError(t, err)
	orig := stored.Versions[0].Material

	unlock := tb.lockKey(id)
	defer unlock()
	// A different version 1 (what a stale cache made rotation do).
	other, err := stored.spec.Generate(tb.random)
	require.NoError(t, err)
	c := stored.clone()
	c.Versions, c.parsed = nil, nil
	require.NoError(t, c.addVersion(other, tb.now()))
	err = tb.putKey(ctx, tb.storage, c)
	require.Error(t, err)
	require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(orig))
	require.NotContains(t, err.Error(), hex.EncodeToString(orig))

	// Dropping a version of generated material.
	c = stored.clone()
	c.Versions = nil
	require.Error(t, tb.putKey(ctx, tb.storage, c))

	after, err := readKey(ctx, tb.storage, id, nil)
	require.NoError(t, err)
	require.Equal(t, orig, after.Versions[0].Material, "storage unchanged")

	// Appending is fine.
	c = stored.clone()
	require.NoError(t, tb.rotate(c, rotationOnDemand, tb.now()))
	require.NoError(t, tb.putKey(ctx, tb.storage, c))
}
