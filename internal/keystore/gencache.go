package keystore

import (
	"container/list"
	"sync"
)

// GenCache is a cache whose fills can never overwrite newer state.
//
// Every change of an entry (this node's write, or Invalidate for another
// node's write) takes a new stamp from a clock. A reader that misses takes
// a ticket (the clock) before its storage read and may store what it read
// only if no change of that name happened since: a fill that raced with a
// write or an Invalidate is dropped, and the next reader reads storage
// again. Stamps of forgotten names (evicted entries, pruned tombstones)
// are folded into floor, which refuses every fill with an older ticket,
// so forgetting a name never lets a stale fill in.
//
// With a limit, the entries holding a value are an LRU of that size.
type GenCache[V any] struct {
	mu    sync.Mutex
	clock uint64
	floor uint64
	slots map[string]*genSlot[V]
	lru   *list.List // names holding a value, most recently used first
	limit int        // 0: unbounded
	// With weigh set, the values' total weight stays at most maxWeight.
	weigh     func(V) int64
	maxWeight int64
	weight    int64
	// tombstones counts slots that hold only a stamp; past maxTombstones
	// they are forgotten at once.
	tombstones int
}

type genSlot[V any] struct {
	stamp  uint64
	val    V
	has    bool
	elem   *list.Element
	weight int64
}

const maxTombstones = 10000

func NewGenCache[V any]() *GenCache[V] {
	return &GenCache[V]{slots: map[string]*genSlot[V]{}, lru: list.New()}
}

// SetLimit bounds the number of cached values (0: unbounded).
func (c *GenCache[V]) SetLimit(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = n
	c.evict()
}

// SetWeight bounds the values' total weight as weigh reckons it.
func (c *GenCache[V]) SetWeight(weigh func(V) int64, max int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.weigh, c.maxWeight = weigh, max
	c.weight = 0
	for _, s := range c.slots {
		if s.has {
			s.weight = weigh(s.val)
			c.weight += s.weight
		}
	}
	c.evict()
}

func (c *GenCache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Get returns the cached value of name.
func (c *GenCache[V]) Get(name string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[name]
	if s == nil || !s.has {
		var zero V
		return zero, false
	}
	c.lru.MoveToFront(s.elem)
	return s.val, true
}

// Ticket is taken before a storage read whose result may be filled.
func (c *GenCache[V]) Ticket() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clock
}

// Fill stores v read from storage after ticket t, unless name changed
// since. It reports whether v was stored.
func (c *GenCache[V]) Fill(name string, t uint64, v V) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[name]
	if t < c.floor || (s != nil && s.stamp > t) {
		return false
	}
	c.setValue(name, c.slot(name), v)
	return true
}

// Put records this node's own write of name (made under the name's lock).
func (c *GenCache[V]) Put(name string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slot(name)
	c.clock++
	s.stamp = c.clock
	c.setValue(name, s, v)
}

// slot returns name's slot for a value about to be set, creating it or
// turning a tombstone back into a live slot.
func (c *GenCache[V]) slot(name string) *genSlot[V] {
	s := c.slots[name]
	switch {
	case s == nil:
		s = &genSlot[V]{}
		c.slots[name] = s
	case !s.has:
		c.tombstones--
	}
	return s
}

func (c *GenCache[V]) setValue(name string, s *genSlot[V], v V) {
	if s.has {
		c.lru.MoveToFront(s.elem)
	} else {
		s.elem = c.lru.PushFront(name)
		s.has = true
	}
	s.val = v
	if c.weigh != nil {
		c.weight -= s.weight
		s.weight = c.weigh(v)
		c.weight += s.weight
	}
	c.evict()
}

// evict drops the least recently used values over the limit or the
// weight; the newest value stays even if it alone is over the weight.
func (c *GenCache[V]) evict() {
	for (c.limit > 0 && c.lru.Len() > c.limit) || (c.weigh != nil && c.weight > c.maxWeight && c.lru.Len() > 1) {
		back := c.lru.Back()
		name := back.Value.(string)
		c.lru.Remove(back)
		if s := c.slots[name]; s != nil {
			c.floor = max(c.floor, s.stamp)
			c.weight -= s.weight
			delete(c.slots, name)
		}
	}
}

// Invalidate drops name's value and refuses fills that started before.
func (c *GenCache[V]) Invalidate(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[name]
	if s == nil {
		s = &genSlot[V]{}
		c.slots[name] = s
		c.tombstones++
	} else if s.has {
		c.lru.Remove(s.elem)
		var zero V
		c.weight -= s.weight
		s.val, s.has, s.elem, s.weight = zero, false, nil, 0
		c.tombstones++
	}
	c.clock++
	s.stamp = c.clock
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

// Reset forgets everything and refuses every fill in flight.
func (c *GenCache[V]) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	c.floor = c.clock
	c.slots = map[string]*genSlot[V]{}
	c.lru.Init()
	c.tombstones = 0
	c.weight = 0
}

// Weight is the values' total weight (0 without SetWeight).
func (c *GenCache[V]) Weight() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.weight
}
