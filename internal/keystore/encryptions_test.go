package keystore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

const cksKey = "00000000-0000-0000-0000-0000000000cc"

// countingStorage counts reads and writes and fails writes on demand.
type countingStorage struct {
	logical.Storage
	gets, puts atomic.Int64
	failPuts   atomic.Bool
}

var errPut = errors.New("injected write failure")

func (c *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	c.gets.Add(1)
	return c.Storage.Get(ctx, key)
}

func (c *countingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if c.failPuts.Load() {
		return errPut
	}
	c.puts.Add(1)
	return c.Storage.Put(ctx, e)
}

func newCountingStore(t *testing.T, limit, block uint64) (*Store, *countingStorage) {
	st, s := newTestStore(t)
	st.EncryptionLimit, st.EncryptionBlock = limit, block
	return st, &countingStorage{Storage: s}
}

// successor is a new store on the same storage: a restarted plugin, or the
// node that becomes active.
func successor(st *Store) *Store {
	next := New(st.deps)
	next.EncryptionLimit, next.EncryptionBlock = st.EncryptionLimit, st.EncryptionBlock
	return next
}

func reserved(t *testing.T, st *Store, s logical.Storage) uint64 {
	t.Helper()
	n, err := st.EncryptionsReserved(context.Background(), s, cksKey)
	require.NoError(t, err)
	return n
}

func requireLimit(t *testing.T, err error) {
	t.Helper()
	var ke *kmserr.Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, kmserr.InvalidState, ke.Type)
	require.Contains(t, ke.Msg, "NIST SP 800-38D")
	require.Contains(t, ke.Msg, "create a new key")
}

// A block is reserved in storage before its first encryption; the rest of
// the block is counted from memory, with no storage read or write.
func TestEncryptionCountReservesBlocks(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, DefaultEncryptionLimit, 10)
	require.Zero(t, reserved(t, st, s))
	require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	require.Equal(t, uint64(10), reserved(t, st, s), "the block is stored before its first encryption")
	gets, puts := s.gets.Load(), s.puts.Load()
	for range 9 {
		require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	}
	require.Equal(t, gets, s.gets.Load(), "no storage read within a block")
	require.Equal(t, puts, s.puts.Load(), "no storage write within a block")
	require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	require.Equal(t, uint64(20), reserved(t, st, s), "the 11th encryption reserves the next block")
}

// A restarted store (or a new active node) continues above the stored
// reservation: what the old one had not used counts as used.
func TestEncryptionCountSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, DefaultEncryptionLimit, 10)
	for range 25 {
		require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	}
	require.Equal(t, uint64(30), reserved(t, st, s))
	next := successor(st)
	require.NoError(t, next.CountEncryption(ctx, s, cksKey))
	require.Equal(t, uint64(40), reserved(t, next, s), "the new store reserves above the old reservation")
	// The old store's memory (5 left of its block) is not the new one's.
	for range 9 {
		require.NoError(t, next.CountEncryption(ctx, s, cksKey))
	}
	require.Equal(t, uint64(40), reserved(t, next, s))
}

// At the limit every encryption is refused, on this store and on any
// later one; a dry run's check says the same without writing.
func TestEncryptionCountLimit(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, 25, 10)
	for i := range 25 {
		require.NoError(t, st.EncryptionAllowed(ctx, s, cksKey))
		require.NoError(t, st.CountEncryption(ctx, s, cksKey), "encryption %d", i+1)
	}
	require.Equal(t, uint64(25), reserved(t, st, s), "the last block is cut at the limit")
	requireLimit(t, st.CountEncryption(ctx, s, cksKey))
	requireLimit(t, st.CountEncryption(ctx, s, cksKey))
	requireLimit(t, st.EncryptionAllowed(ctx, s, cksKey))
	puts := s.puts.Load()
	next := successor(st)
	requireLimit(t, next.CountEncryption(ctx, s, cksKey))
	requireLimit(t, next.EncryptionAllowed(ctx, s, cksKey))
	require.Equal(t, puts, s.puts.Load(), "a refusal writes nothing")
	require.Equal(t, uint64(25), reserved(t, st, s))
}

// Concurrent encryptions never pass the limit, even with blocks dropped
// (Invalidate, Clean) while they run: exactly the limit when nothing is
// dropped, at most the limit otherwise. Run with -race.
func TestEncryptionCountConcurrent(t *testing.T) {
	for _, drop := range []bool{false, true} {
		ctx := context.Background()
		const limit = 1000
		st, s := newCountingStore(t, limit, 7)
		var ok, refused atomic.Int64
		var other atomic.Value // an error that is not the limit's
		var wg sync.WaitGroup
		stop := make(chan struct{})
		if drop {
			go func() {
				for {
					select {
					case <-stop:
						return
					default:
						st.Invalidate(EncryptionCountPrefix + cksKey)
						st.Reset()
					}
				}
			}()
		}
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					err := st.CountEncryption(ctx, s, cksKey)
					if err == nil {
						ok.Add(1)
						continue
					}
					var ke *kmserr.Error
					if !errors.As(err, &ke) || ke.Type != kmserr.InvalidState {
						other.Store(err)
					}
					refused.Add(1)
				}
			}()
		}
		wg.Wait()
		close(stop)
		require.Nil(t, other.Load(), "drop=%v", drop)
		require.LessOrEqual(t, ok.Load(), int64(limit), "drop=%v", drop)
		require.Equal(t, uint64(limit), reserved(t, st, s), "drop=%v", drop)
		if !drop {
			require.Equal(t, int64(limit), ok.Load())
			require.Equal(t, int64(1600-limit), refused.Load())
		}
	}
}

// A reservation that cannot be written refuses the encryption, and leaves
// nothing in memory to encrypt with: no encryption goes uncounted.
func TestEncryptionCountFailedWrite(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, DefaultEncryptionLimit, 3)
	s.failPuts.Store(true)
	require.ErrorIs(t, st.CountEncryption(ctx, s, cksKey), errPut)
	require.ErrorIs(t, st.CountEncryption(ctx, s, cksKey), errPut, "the failed reservation left no block")
	s.failPuts.Store(false)
	for range 3 {
		require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	}
	s.failPuts.Store(true)
	require.ErrorIs(t, st.CountEncryption(ctx, s, cksKey), errPut, "the block is spent and the next cannot be reserved")
	require.Equal(t, uint64(3), reserved(t, st, s))
}

// Invalidate of the entry (another node wrote it) drops the block: the
// next encryption reads storage and reserves above what was written.
func TestEncryptionCountInvalidate(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, DefaultEncryptionLimit, 10)
	require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: EncryptionCountPrefix + cksKey, Value: []byte(`{"reserved":500}`)}))
	require.True(t, st.Invalidate(EncryptionCountPrefix+cksKey))
	gets := s.gets.Load()
	require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	require.Greater(t, s.gets.Load(), gets, "the dropped block sends the next encryption to storage")
	require.Equal(t, uint64(510), reserved(t, st, s))
}

// Destroying a key removes its count with it.
func TestEncryptionCountDestroyed(t *testing.T) {
	ctx := context.Background()
	st, s := newCountingStore(t, DefaultEncryptionLimit, 10)
	newStoredKey(t, st, s, cksKey)
	require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	raw, err := s.Get(ctx, EncryptionCountPrefix+cksKey)
	require.NoError(t, err)
	require.NotNil(t, raw)
	unlock := st.Lock(cksKey)
	require.NoError(t, st.Destroy(ctx, s, cksKey, "test"))
	unlock()
	raw, err = s.Get(ctx, EncryptionCountPrefix+cksKey)
	require.NoError(t, err)
	require.Nil(t, raw, "the count went with the key")
}

// The cost a request pays to be counted: a block in memory, with a storage
// write per DefaultEncryptionBlock encryptions.
func BenchmarkCountEncryption(b *testing.B) {
	st := New(Deps{})
	s := &logical.InmemStorage{}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := st.CountEncryption(ctx, s, cksKey); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Blocks start small and double while the node keeps the key's block, up
// to EncryptionBlock; a node that drops a block starts small again.
func TestEncryptionBlocksGrow(t *testing.T) {
	st, s := newCountingStore(t, DefaultEncryptionLimit, DefaultEncryptionBlock)
	ctx := context.Background()
	count := func(n uint64) {
		for range n {
			require.NoError(t, st.CountEncryption(ctx, s, cksKey))
		}
	}
	count(1)
	require.Equal(t, firstEncryptionBlock, reserved(t, st, s))
	count(firstEncryptionBlock) // the first block's rest, and one of the second
	require.Equal(t, 3*firstEncryptionBlock, reserved(t, st, s))
	total := firstEncryptionBlock
	for size := 2 * firstEncryptionBlock; size <= DefaultEncryptionBlock; size *= 2 {
		total += size
	}
	count(total - firstEncryptionBlock - 1) // up to the end of the 65,536 block
	require.Equal(t, total, reserved(t, st, s))
	count(1)
	require.Equal(t, total+DefaultEncryptionBlock, reserved(t, st, s), "blocks stop growing at EncryptionBlock")

	st.encryptions.Invalidate(cksKey) // the block is dropped: the next one is small again
	count(1)
	require.Equal(t, total+DefaultEncryptionBlock+firstEncryptionBlock, reserved(t, st, s))
}

// More keys encrypting than the block cache holds lose at most a first
// block per eviction, not a full one; the cache holds ten keys per key
// cache entry.
func TestEncryptionBlocksEvicted(t *testing.T) {
	st, s := newCountingStore(t, DefaultEncryptionLimit, DefaultEncryptionBlock)
	st.SetKeyLimit(1)
	ctx := context.Background()
	keys := make([]string, 11)
	for i := range keys {
		keys[i] = cksKey[:len(cksKey)-2] + string(rune('a'+i)) + "0"
	}
	for range 5 {
		for _, id := range keys {
			require.NoError(t, st.CountEncryption(ctx, s, id))
		}
	}
	for _, id := range keys {
		n, err := st.EncryptionsReserved(ctx, s, id)
		require.NoError(t, err)
		require.LessOrEqual(t, n, 5*firstEncryptionBlock, "key %s", id)
	}
	// Ten keys fit: each keeps its first block.
	st2, s2 := newCountingStore(t, DefaultEncryptionLimit, DefaultEncryptionBlock)
	st2.SetKeyLimit(1)
	for range 5 {
		for _, id := range keys[:10] {
			require.NoError(t, st2.CountEncryption(ctx, s2, id))
		}
	}
	for _, id := range keys[:10] {
		n, err := st2.EncryptionsReserved(ctx, s2, id)
		require.NoError(t, err)
		require.Equal(t, firstEncryptionBlock, n, "key %s", id)
	}
}

// A key at the limit is refused from memory: no lock, no storage read.
func TestEncryptionLimitRemembered(t *testing.T) {
	st, s := newCountingStore(t, 3, 2)
	ctx := context.Background()
	for range 3 {
		require.NoError(t, st.CountEncryption(ctx, s, cksKey))
	}
	requireLimit(t, st.CountEncryption(ctx, s, cksKey))
	gets := s.gets.Load()
	for range 100 {
		requireLimit(t, st.CountEncryption(ctx, s, cksKey))
		requireLimit(t, st.EncryptionAllowed(ctx, s, cksKey))
	}
	require.Equal(t, gets, s.gets.Load(), "refusals at the limit read storage")
	require.Equal(t, uint64(3), reserved(t, st, s))
}
