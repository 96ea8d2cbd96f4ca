package keystore

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// RotationEntry is the rotation/ index entry of a key.
type RotationEntry struct {
	KeyID string    `json:"key_id"`
	Due   time.Time `json:"due"`
}

// rotationQueue orders keys with automatic rotation by due date, so the
// periodic function touches only keys that are due, however many keys
// there are. It is loaded from the rotation/ index once, and reloaded after
// another node changes the index (Invalidate). Entries can be stale (the
// key's schedule changed); rotateIfDue checks the key itself.
type rotationQueue struct {
	mu     sync.Mutex
	loaded bool
	items  dueHeap
}

type dueItem struct {
	keyID string
	due   time.Time
	// failures counts failed attempts, for the retry backoff.
	failures int
}

// Retries of a failed rotation back off from a minute to an hour.
const (
	RotationRetryMin = time.Minute
	rotationRetryMax = time.Hour
)

func rotationBackoff(failures int) time.Duration {
	d := RotationRetryMin
	for i := 1; i < failures && d < rotationRetryMax; i++ {
		d *= 2
	}
	return min(d, rotationRetryMax)
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (q *rotationQueue) push(keyID string, due time.Time) {
	q.pushItem(dueItem{keyID: keyID, due: due})
}

func (q *rotationQueue) pushItem(it dueItem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.loaded {
		heap.Push(&q.items, it)
	}
}

func (q *rotationQueue) invalidate() {
	q.mu.Lock()
	q.loaded, q.items = false, nil
	q.mu.Unlock()
}

// popDue removes and returns the entries due at now.
func (q *rotationQueue) popDue(now time.Time) []dueItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []dueItem
	for len(q.items) > 0 && !q.items[0].due.After(now) {
		out = append(out, heap.Pop(&q.items).(dueItem))
	}
	return out
}

func (st *Store) loadRotationQueue(ctx context.Context, s logical.Storage) error {
	st.rotations.mu.Lock()
	loaded := st.rotations.loaded
	st.rotations.mu.Unlock()
	if loaded {
		return nil
	}
	ids, err := s.List(ctx, RotationPrefix)
	if err != nil {
		return err
	}
	items := make(dueHeap, 0, len(ids))
	for _, id := range ids {
		raw, err := s.Get(ctx, RotationPrefix+id)
		if err != nil {
			return err
		}
		if raw == nil {
			continue
		}
		var r RotationEntry
		if err := raw.DecodeJSON(&r); err != nil {
			return err
		}
		items = append(items, dueItem{keyID: r.KeyID, due: r.Due})
	}
	heap.Init(&items)
	st.rotations.mu.Lock()
	st.rotations.items, st.rotations.loaded = items, true
	st.rotations.mu.Unlock()
	return nil
}

// ScheduleRotation records a key's next automatic rotation, or removes it
// when rotation is off.
func (st *Store) ScheduleRotation(ctx context.Context, s logical.Storage, e *Key) error {
	if e.RotationPeriodDays == 0 {
		return s.Delete(ctx, RotationPrefix+e.KeyID)
	}
	entry, err := logical.StorageEntryJSON(RotationPrefix+e.KeyID, &RotationEntry{KeyID: e.KeyID, Due: e.NextRotation})
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	st.rotations.push(e.KeyID, e.NextRotation)
	return nil
}

// RotateDueKeys rotates the keys whose automatic rotation is due. A key
// that fails is retried later with backoff, and the others go on; if the
// context ends, the keys not reached go back to the queue as they were.
func (st *Store) RotateDueKeys(ctx context.Context, s logical.Storage) error {
	if err := st.loadRotationQueue(ctx, s); err != nil {
		return err
	}
	now := st.now()
	items := st.rotations.popDue(now)
	var errs []error
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			for _, rest := range items[i:] {
				st.rotations.pushItem(rest)
			}
			return errors.Join(append(errs, err)...)
		}
		if err := st.rotateIfDue(ctx, s, it.keyID); err != nil {
			it.failures++
			it.due = now.Add(rotationBackoff(it.failures))
			st.rotations.pushItem(it)
			st.logger().Error("automatic rotation failed; will retry", "key_id", it.keyID, "retry_at", it.due, "error", err)
			errs = append(errs, fmt.Errorf("rotating key %s: %w", it.keyID, err))
		}
	}
	return errors.Join(errs...)
}

func (st *Store) rotateIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := st.Lock(id)
	defer unlock()
	e, err := st.Load(ctx, s, id)
	if err != nil {
		return err
	}
	now := st.now().UTC()
	switch {
	case e == nil || st.IsDeleted(e) || e.RotationPeriodDays == 0:
		return s.Delete(ctx, RotationPrefix+id)
	case e.NextRotation.After(now):
		// The schedule moved (or the index write after the last rotation
		// failed): make the index agree with the key.
		return st.ScheduleRotation(ctx, s, e)
	case e.State != StateEnabled:
		// AWS does not rotate a disabled key; enabling it requeues the key,
		// which then rotates at once if it is overdue.
		return nil
	}
	c := e.Clone()
	if err := st.Rotate(c, RotationAutomatic, now); err != nil {
		return err
	}
	c.NextRotation = now.Add(time.Duration(c.RotationPeriodDays) * 24 * time.Hour)
	if err := st.Put(ctx, s, c); err != nil {
		return err
	}
	st.logger().Info("rotated key material", "key_id", id, "version", c.Versions[len(c.Versions)-1].Version)
	return st.ScheduleRotation(ctx, s, c)
}

// Rotate adds a new version of key material to e.
func (st *Store) Rotate(e *Key, kind string, now time.Time) error {
	k, err := e.spec.Generate(st.deps.Random())
	if err != nil {
		return err
	}
	if err := e.AddVersion(k, now); err != nil {
		return err
	}
	e.Versions[len(e.Versions)-1].RotationType = kind
	return nil
}

// QueueRotation puts a key back in the rotation queue (a key skipped
// while disabled is due again once enabled).
func (st *Store) QueueRotation(keyID string, due time.Time) {
	st.rotations.push(keyID, due)
}

// InvalidateRotations makes the next sweep reload the rotation queue from
// storage (another node changed rotation/).
func (st *Store) InvalidateRotations() { st.rotations.invalidate() }
