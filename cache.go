package kms

import (
	"sync"
	"sync/atomic"
)

// genCache is a cache whose fills can never overwrite newer state.
//
// Every change of an entry (this node's write, or Invalidate for another
// node's write) takes a new stamp from a clock. A reader that misses takes
// a ticket (the clock) before its storage read and may store what it read
// only if no change of that name happened since: a fill that raced with a
// write or an Invalidate is dropped, and the next reader reads storage
// again. Stamps of forgotten names are folded into floor, which refuses
// every fill older than the newest forgotten stamp, so the stamps of
// deleted or evicted entries need not be kept.
type genCache[V any] struct {
	mu    sync.Mutex
	clock uint64
	floor uint64
	slots map[string]genSlot[V]
	// tombstones counts slots that hold only a stamp; past maxTombstones
	// they are forgotten at once.
	tombstones int
}

type genSlot[V any] struct {
	stamp uint64
	val   V
	has   bool
}

const maxTombstones = 10000

func newGenCache[V any]() *genCache[V] {
	return &genCache[V]{slots: map[string]genSlot[V]{}}
}

// get returns the cached value of name.
func (c *genCache[V]) get(name string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[name]
	return s.val, s.has
}

// ticket is taken before a storage read whose result may be filled.
func (c *genCache[V]) ticket() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clock
}

// fill stores v read from storage after ticket t, unless name changed
// since. It reports whether v was stored.
func (c *genCache[V]) fill(name string, t uint64, v V) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.slots[name]
	if t < c.floor || (ok && s.stamp > t) {
		return false
	}
	if ok && !s.has {
		c.tombstones--
	}
	c.slots[name] = genSlot[V]{stamp: s.stamp, val: v, has: true}
	return true
}

// put records this node's own write of name (made under the name's lock).
func (c *genCache[V]) put(name string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.slots[name]; ok && !s.has {
		c.tombstones--
	}
	c.clock++
	c.slots[name] = genSlot[V]{stamp: c.clock, val: v, has: true}
}

// invalidate drops name's value and refuses fills that started before.
func (c *genCache[V]) invalidate(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.slots[name]
	if !ok || s.has {
		c.tombstones++
	}
	c.clock++
	c.slots[name] = genSlot[V]{stamp: c.clock}
	if c.tombstones > maxTombstones {
		for n, s := range c.slots {
			if !s.has {
				delete(c.slots, n)
			}
		}
		c.tombstones = 0
		c.floor = c.clock
	}
}

// reset forgets everything and refuses every fill in flight.
func (c *genCache[V]) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	c.floor = c.clock
	c.slots = map[string]genSlot[V]{}
	c.tombstones = 0
}

// cache holds parsed keys, grant indexes and aliases (a nil *aliasEntry
// caches "no such alias"). Entries follow the generation rule of genCache.
type cache struct {
	keys     *genCache[*keyEntry]   // key id
	grants   *genCache[*grantIndex] // key id
	aliases  *genCache[*aliasEntry] // alias name
	keyAlias *genCache[[]string]    // key id -> its alias names, sorted
	tokenKey atomic.Pointer[[]byte]
}

func newCache() *cache {
	return &cache{
		keys:     newGenCache[*keyEntry](),
		grants:   newGenCache[*grantIndex](),
		aliases:  newGenCache[*aliasEntry](),
		keyAlias: newGenCache[[]string](),
	}
}

func (c *cache) reset() {
	c.keys.reset()
	c.grants.reset()
	c.aliases.reset()
	c.keyAlias.reset()
	c.tokenKey.Store(nil)
}
