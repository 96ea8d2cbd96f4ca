package keystore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenCacheRules(t *testing.T) {
	c := NewGenCache[int]()
	t1 := c.Ticket()
	c.Put("a", 2)
	require.False(t, c.Fill("a", t1, 1), "a fill older than a write is dropped")
	v, _ := c.Get("a")
	require.Equal(t, 2, v)

	t2 := c.Ticket()
	c.Invalidate("a")
	require.False(t, c.Fill("a", t2, 1), "a fill older than an Invalidate is dropped")
	_, ok := c.Get("a")
	require.False(t, ok)
	require.True(t, c.Fill("a", c.Ticket(), 3))

	// Forgotten tombstones raise the floor: no fill from before survives.
	t3 := c.Ticket()
	for i := range maxTombstones + 1 {
		c.Invalidate(string(rune('b' + i)))
	}
	require.False(t, c.Fill("zz", t3, 1))
	require.True(t, c.Fill("zz", c.Ticket(), 1))
}

func TestGenCacheLRU(t *testing.T) {
	c := NewGenCache[int]()
	c.SetLimit(2)
	c.Put("a", 1)
	c.Put("b", 2)
	old := c.Ticket()
	c.Get("a") // a is now the most recently used
	c.Put("c", 3)
	_, ok := c.Get("b")
	require.False(t, ok, "the least recently used entry is evicted")
	_, ok = c.Get("a")
	require.True(t, ok)
	require.Equal(t, 2, c.Len())
	// b's stamp was newer than old: a fill from before cannot come back.
	require.False(t, c.Fill("b", old-1, 0))
	require.True(t, c.Fill("b", c.Ticket(), 2))
	require.Equal(t, 2, c.Len())
	c.SetLimit(1)
	require.Equal(t, 1, c.Len())
}

func TestGenCacheWeight(t *testing.T) {
	c := NewGenCache[int]()
	c.SetWeight(func(v int) int64 { return int64(v) }, 10)
	c.Put("a", 4)
	c.Put("b", 4)
	c.Put("c", 4) // 12 > 10: a, the least recently used, goes
	_, ok := c.Get("a")
	require.False(t, ok)
	require.Equal(t, 2, c.Len())
	c.Invalidate("b") // an invalidated value no longer counts
	c.Put("d", 6)
	require.Equal(t, 2, c.Len())
	c.Put("e", 20) // alone over the weight: it stays, the others go
	require.Equal(t, 1, c.Len())
	_, ok = c.Get("e")
	require.True(t, ok)
	c.Put("e", 1) // its weight is replaced, not added
	c.Put("f", 9)
	require.Equal(t, 2, c.Len())
}
