package kms

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

const rotationStoragePrefix = keystore.RotationPrefix

// Rotation types of key material versions, as AWS's ListKeyRotations.
const (
	rotationAutomatic = keystore.RotationAutomatic
	rotationOnDemand  = keystore.RotationOnDemand
)

type rotationEntry struct {
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
	rotationRetryMin = time.Minute
	rotationRetryMax = time.Hour
)

func rotationBackoff(failures int) time.Duration {
	d := rotationRetryMin
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

func (b *backend) loadRotationQueue(ctx context.Context, s logical.Storage) error {
	b.rotations.mu.Lock()
	loaded := b.rotations.loaded
	b.rotations.mu.Unlock()
	if loaded {
		return nil
	}
	ids, err := s.List(ctx, rotationStoragePrefix)
	if err != nil {
		return err
	}
	items := make(dueHeap, 0, len(ids))
	for _, id := range ids {
		raw, err := s.Get(ctx, rotationStoragePrefix+id)
		if err != nil {
			return err
		}
		if raw == nil {
			continue
		}
		var r rotationEntry
		if err := raw.DecodeJSON(&r); err != nil {
			return err
		}
		items = append(items, dueItem{keyID: r.KeyID, due: r.Due})
	}
	heap.Init(&items)
	b.rotations.mu.Lock()
	b.rotations.items, b.rotations.loaded = items, true
	b.rotations.mu.Unlock()
	return nil
}

// scheduleRotation records a key's next automatic rotation, or removes it
// when rotation is off.
func (b *backend) scheduleRotation(ctx context.Context, s logical.Storage, e *keyEntry) error {
	if e.RotationPeriodDays == 0 {
		return s.Delete(ctx, rotationStoragePrefix+e.KeyID)
	}
	entry, err := logical.StorageEntryJSON(rotationStoragePrefix+e.KeyID, &rotationEntry{KeyID: e.KeyID, Due: e.NextRotation})
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	b.rotations.push(e.KeyID, e.NextRotation)
	return nil
}

// rotateDueKeys rotates the keys whose automatic rotation is due. A key
// that fails is retried later with backoff, and the others go on; if the
// context ends, the keys not reached go back to the queue as they were.
func (b *backend) rotateDueKeys(ctx context.Context, s logical.Storage) error {
	if err := b.loadRotationQueue(ctx, s); err != nil {
		return err
	}
	now := b.now()
	items := b.rotations.popDue(now)
	var errs []error
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			for _, rest := range items[i:] {
				b.rotations.pushItem(rest)
			}
			return errors.Join(append(errs, err)...)
		}
		if err := b.rotateIfDue(ctx, s, it.keyID); err != nil {
			it.failures++
			it.due = now.Add(rotationBackoff(it.failures))
			b.rotations.pushItem(it)
			b.Logger().Error("automatic rotation failed; will retry", "key_id", it.keyID, "retry_at", it.due, "error", err)
			errs = append(errs, fmt.Errorf("rotating key %s: %w", it.keyID, err))
		}
	}
	return errors.Join(errs...)
}

func (b *backend) rotateIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := b.lockKey(id)
	defer unlock()
	e, err := b.loadKey(ctx, s, id)
	if err != nil {
		return err
	}
	now := b.now().UTC()
	switch {
	case e == nil || b.isDeleted(e) || e.RotationPeriodDays == 0:
		return s.Delete(ctx, rotationStoragePrefix+id)
	case e.NextRotation.After(now):
		// The schedule moved (or the index write after the last rotation
		// failed): make the index agree with the key.
		return b.scheduleRotation(ctx, s, e)
	case e.State != stateEnabled:
		// AWS does not rotate a disabled key; enabling it requeues the key,
		// which then rotates at once if it is overdue.
		return nil
	}
	c := e.Clone()
	if err := b.rotate(c, rotationAutomatic, now); err != nil {
		return err
	}
	c.NextRotation = now.Add(time.Duration(c.RotationPeriodDays) * 24 * time.Hour)
	if err := b.putKey(ctx, s, c); err != nil {
		return err
	}
	b.Logger().Info("rotated key material", "key_id", id, "version", c.Versions[len(c.Versions)-1].Version)
	return b.scheduleRotation(ctx, s, c)
}

// rotate adds a new version of key material to e.
func (b *backend) rotate(e *keyEntry, kind string, now time.Time) error {
	k, err := e.Spec().Generate(b.random)
	if err != nil {
		return err
	}
	if err := e.AddVersion(k, now); err != nil {
		return err
	}
	e.Versions[len(e.Versions)-1].RotationType = kind
	return nil
}
