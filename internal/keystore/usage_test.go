package keystore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// putCounter counts storage writes.
type putCounter struct {
	logical.Storage
	puts int
}

func (c *putCounter) Put(ctx context.Context, e *logical.StorageEntry) error {
	c.puts++
	return c.Storage.Put(ctx, e)
}

// Last-usage records follow the keys used in the last minute, not every
// key used since start (docs/SCALE.md measured 208 MiB after a million
// keys): a record persisted over a minute ago is dropped, as its key's
// next use writes storage anyway; recent records stay, so no use becomes
// an extra write.
func TestUsageRecordsBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := New(Deps{Now: func() time.Time { return now }})
	ctx := context.Background()
	s := &putCounter{Storage: &logical.InmemStorage{}}
	batch := func(tag string) []string {
		ids := make([]string, 3*UsagePruneMin)
		for i := range ids {
			ids[i] = tag + strconv.Itoa(i)
			st.RecordUse(ctx, s, ids[i], "Encrypt", "")
		}
		return ids
	}
	old := batch("old-")
	require.Equal(t, len(old), st.UsageRecords(), "records of the last minute are kept")
	s.puts = 0
	st.RecordUse(ctx, s, old[0], "Decrypt", "")
	require.Zero(t, s.puts, "a use within the minute writes nothing")

	now = now.Add(UsagePersistEvery)
	recent := batch("new-")
	require.Equal(t, len(recent), st.UsageRecords(), "records persisted over a minute ago are dropped")
	st.usage.mu.Lock()
	_, kept := st.usage.last[old[1]]
	st.usage.mu.Unlock()
	require.False(t, kept)
	// A dropped key's last usage is still served, from storage.
	u, err := st.LastUse(ctx, s, old[1])
	require.NoError(t, err)
	require.Equal(t, "Encrypt", u.Operation)
}
