package kms

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Initialization records the storage layout version on a new mount; a
// mount written with a newer layout refuses to start: initialization fails
// and every request gets the reason, before any storage is read or written.
func TestMountLayoutVersion(t *testing.T) {
	ctx := context.Background()
	tb := newTestBackend(t)
	require.NoError(t, tb.initialize(ctx, &logical.InitializationRequest{Storage: tb.storage}))
	raw, err := tb.storage.Get(ctx, keystore.LayoutKey)
	require.NoError(t, err)
	require.NotNil(t, raw, "a new mount records its layout version")
	require.Equal(t, "1", string(raw.Value))
	tb.createKey(nil)

	newer := newTestBackend(t)
	require.NoError(t, newer.storage.Put(ctx, &logical.StorageEntry{Key: keystore.LayoutKey, Value: []byte("2")}))
	err = newer.initialize(ctx, &logical.InitializationRequest{Storage: newer.storage})
	require.ErrorContains(t, err, "layout version 2")
	_, err = newer.do(logical.UpdateOperation, "keys", nil)
	ke := requireServerFault(t, err)
	require.Contains(t, ke.Msg, "refusing to start")
	keys, err := newer.storage.List(ctx, keystore.KeyPrefix)
	require.NoError(t, err)
	require.Empty(t, keys, "no key was created")
}

func requireServerFault(t *testing.T, err error) *kmserr.Error {
	t.Helper()
	var ke *kmserr.Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, kmserr.Internal, ke.Type)
	require.Equal(t, 500, ke.Code())
	return ke
}
