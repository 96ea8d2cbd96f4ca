package keystore

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

const (
	// UsagePersistEvery bounds storage writes for last-usage tracking: the
	// stored time may lag the real one by up to this much (the in-memory
	// value on the node that served the request is exact).
	UsagePersistEvery = time.Minute
)

// UsageEntry is a key's last use, as stored under usage/.
type UsageEntry struct {
	Operation string    `json:"operation"`
	At        time.Time `json:"at"`
	// RequestID is Vault's request id (req.ID), the request.id of the
	// audit log entry: KmsRequestId leads to it, as to CloudTrail in AWS.
	RequestID string `json:"request_id,omitempty"`
}

type usageRecord struct {
	UsageEntry
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

// UsagePruneMin is the fewest records the tracker prunes at.
const UsagePruneMin = 10000

// set stores id's record (the caller holds mu), pruning when the map has
// doubled since the last prune: amortised O(1) per key.
func (t *usageTracker) set(id string, r usageRecord, now time.Time) {
	t.last[id] = r
	if len(t.last) < max(t.pruneAt, UsagePruneMin) {
		return
	}
	for k, o := range t.last {
		if now.Sub(o.persisted) >= UsagePersistEvery {
			delete(t.last, k)
		}
	}
	t.pruneAt = 2 * len(t.last)
}

// RecordUse notes that op was admitted on key id by request requestID,
// writing to storage at most once per key per UsagePersistEvery.
func (st *Store) RecordUse(ctx context.Context, s logical.Storage, id, op, requestID string) {
	now := st.now().UTC()
	st.usage.mu.Lock()
	if st.usage.last == nil {
		st.usage.last = map[string]usageRecord{}
	}
	r := st.usage.last[id]
	r.Operation, r.At = op, now
	r.RequestID = requestID
	persist := now.Sub(r.persisted) >= UsagePersistEvery
	if persist {
		r.persisted = now
	}
	st.usage.set(id, r, now)
	st.usage.mu.Unlock()
	if !persist {
		return
	}
	entry, err := logical.StorageEntryJSON(UsagePrefix+id, &r.UsageEntry)
	if err == nil {
		err = s.Put(ctx, entry)
	}
	if err != nil {
		// A performance standby cannot write; its requests still count on
		// the active node's next write for the key, and in memory here.
		st.logger().Debug("could not persist key last usage", "key_id", id, "error", err)
	}
}

// ForwardForUsage is called before a cryptographic operation is served.
// A node that cannot write (a performance standby) cannot persist key last
// usage; when the key's record is due to be written (at most once a minute
// per key) it answers ErrReadOnly before doing any work, so Vault forwards
// that request to the active node, which serves it and records the use.
// The stored last usage thus reflects standby traffic too, with the same
// one-minute resolution.
func (st *Store) ForwardForUsage(id string) error {
	now := st.now().UTC()
	st.usage.mu.Lock()
	due := now.Sub(st.usage.last[id].persisted) >= UsagePersistEvery
	st.usage.mu.Unlock()
	// The replication state is two calls to Vault: ask only when due.
	if !due || st.deps.WriteSafe() {
		return nil
	}
	st.usage.mu.Lock()
	defer st.usage.mu.Unlock()
	if st.usage.last == nil {
		st.usage.last = map[string]usageRecord{}
	}
	r := st.usage.last[id]
	if now.Sub(r.persisted) < UsagePersistEvery {
		return nil // another request is being forwarded
	}
	r.persisted = now
	st.usage.set(id, r, now)
	return logical.ErrReadOnly
}

// LastUse returns the newest of the in-memory and the stored last usage.
func (st *Store) LastUse(ctx context.Context, s logical.Storage, id string) (*UsageEntry, error) {
	st.usage.mu.Lock()
	r, ok := st.usage.last[id]
	st.usage.mu.Unlock()
	raw, err := s.Get(ctx, UsagePrefix+id)
	if err != nil {
		return nil, err
	}
	var stored *UsageEntry
	if raw != nil {
		stored = &UsageEntry{}
		if err := raw.DecodeJSON(stored); err != nil {
			return nil, err
		}
	}
	if ok && !r.At.IsZero() && (stored == nil || !r.At.Before(stored.At)) {
		return &r.UsageEntry, nil
	}
	return stored, nil
}

// UsageRecords is how many last-usage records the store holds in memory.
func (st *Store) UsageRecords() int {
	st.usage.mu.Lock()
	defer st.usage.mu.Unlock()
	return len(st.usage.last)
}

// ForgetUsage drops the in-memory last-usage records (benchmarks).
func (st *Store) ForgetUsage() {
	st.usage.mu.Lock()
	st.usage.last = nil
	st.usage.mu.Unlock()
}
