package kms

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

const (
	usageStoragePrefix = keystore.UsagePrefix
	// usagePersistEvery bounds storage writes for last-usage tracking: the
	// stored time may lag the real one by up to this much (the in-memory
	// value on the node that served the request is exact).
	usagePersistEvery = time.Minute
)

type usageEntry struct {
	Operation string    `json:"operation"`
	At        time.Time `json:"at"`
	// RequestID is Vault's request id (req.ID), the request.id of the
	// audit log entry: KmsRequestId leads to it, as to CloudTrail in AWS.
	RequestID string `json:"request_id,omitempty"`
}

type usageRecord struct {
	usageEntry
	persisted time.Time
}

// usageTracker remembers when each key was last used for a cryptographic
// operation, so that an encrypt does not become a storage write.
type usageTracker struct {
	mu   sync.Mutex
	last map[string]usageRecord
	// pruneAt is the size at which records persisted over a minute ago
	// are dropped: their key's next use writes storage anyway, so memory
	// follows the keys used in the last minute, not every key ever used.
	pruneAt int
}

// usagePruneMin is the fewest records the tracker prunes at.
const usagePruneMin = 10000

// set stores id's record (the caller holds mu), pruning when the map has
// doubled since the last prune: amortised O(1) per key.
func (t *usageTracker) set(id string, r usageRecord, now time.Time) {
	t.last[id] = r
	if len(t.last) < max(t.pruneAt, usagePruneMin) {
		return
	}
	for k, o := range t.last {
		if now.Sub(o.persisted) >= usagePersistEvery {
			delete(t.last, k)
		}
	}
	t.pruneAt = 2 * len(t.last)
}

// recordUse notes that op was admitted on key id by request requestID,
// writing to storage at most once per key per usagePersistEvery.
func (b *backend) recordUse(ctx context.Context, s logical.Storage, id, op, requestID string) {
	now := b.now().UTC()
	b.usage.mu.Lock()
	if b.usage.last == nil {
		b.usage.last = map[string]usageRecord{}
	}
	r := b.usage.last[id]
	r.Operation, r.At = op, now
	r.RequestID = requestID
	persist := now.Sub(r.persisted) >= usagePersistEvery
	if persist {
		r.persisted = now
	}
	b.usage.set(id, r, now)
	b.usage.mu.Unlock()
	if !persist {
		return
	}
	entry, err := logical.StorageEntryJSON(usageStoragePrefix+id, &r.usageEntry)
	if err == nil {
		err = s.Put(ctx, entry)
	}
	if err != nil {
		// A performance standby cannot write; its requests still count on
		// the active node's next write for the key, and in memory here.
		b.Logger().Debug("could not persist key last usage", "key_id", id, "error", err)
	}
}

// forwardForUsage is called before a cryptographic operation is served.
// A node that cannot write (a performance standby) cannot persist key last
// usage; when the key's record is due to be written (at most once a minute
// per key) it answers ErrReadOnly before doing any work, so Vault forwards
// that request to the active node, which serves it and records the use.
// The stored last usage thus reflects standby traffic too, with the same
// one-minute resolution.
func (b *backend) forwardForUsage(id string) error {
	now := b.now().UTC()
	b.usage.mu.Lock()
	due := now.Sub(b.usage.last[id].persisted) >= usagePersistEvery
	b.usage.mu.Unlock()
	// The replication state is two calls to Vault: ask only when due.
	if !due || b.WriteSafeReplicationState() {
		return nil
	}
	b.usage.mu.Lock()
	defer b.usage.mu.Unlock()
	if b.usage.last == nil {
		b.usage.last = map[string]usageRecord{}
	}
	r := b.usage.last[id]
	if now.Sub(r.persisted) < usagePersistEvery {
		return nil // another request is being forwarded
	}
	r.persisted = now
	b.usage.set(id, r, now)
	return logical.ErrReadOnly
}

// lastUse returns the newest of the in-memory and the stored last usage.
func (b *backend) lastUse(ctx context.Context, s logical.Storage, id string) (*usageEntry, error) {
	b.usage.mu.Lock()
	r, ok := b.usage.last[id]
	b.usage.mu.Unlock()
	raw, err := s.Get(ctx, usageStoragePrefix+id)
	if err != nil {
		return nil, err
	}
	var stored *usageEntry
	if raw != nil {
		stored = &usageEntry{}
		if err := raw.DecodeJSON(stored); err != nil {
			return nil, err
		}
	}
	if ok && !r.At.IsZero() && (stored == nil || !r.At.Before(stored.At)) {
		return &r.usageEntry, nil
	}
	return stored, nil
}
