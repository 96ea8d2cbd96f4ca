package kms

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

const (
	usageStoragePrefix = "usage/" // usage/<key id>: usageEntry
	// usagePersistEvery bounds storage writes for last-usage tracking: the
	// stored time may lag the real one by up to this much (the in-memory
	// value on the node that served the request is exact).
	usagePersistEvery = time.Minute
)

type usageEntry struct {
	Operation string    `json:"operation"`
	At        time.Time `json:"at"`
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
}

// recordUse notes that op was admitted on key id, writing to storage at
// most once per key per usagePersistEvery. On a node that cannot write (a
// performance standby) that write fails with ErrReadOnly; recordUse then
// returns ErrReadOnly so that the request, not yet served, is forwarded by
// Vault to the active node, which serves it and records the use. So at
// most one request per key per minute is forwarded, and the stored last
// usage lags real use by at most usagePersistEvery on every node.
func (b *backend) recordUse(ctx context.Context, s logical.Storage, id, op string) error {
	now := b.now().UTC()
	b.usage.mu.Lock()
	if b.usage.last == nil {
		b.usage.last = map[string]usageRecord{}
	}
	r := b.usage.last[id]
	r.Operation, r.At = op, now
	persist := now.Sub(r.persisted) >= usagePersistEvery
	if persist {
		r.persisted = now
	}
	b.usage.last[id] = r
	b.usage.mu.Unlock()
	if !persist {
		return nil
	}
	entry, err := logical.StorageEntryJSON(usageStoragePrefix+id, &r.usageEntry)
	if err == nil {
		err = s.Put(ctx, entry)
	}
	switch {
	case err == nil:
		return nil
	case isReadOnly(err):
		return logical.ErrReadOnly
	}
	// Another storage failure must not fail the operation: the next use
	// after usagePersistEvery tries again.
	b.Logger().Warn("could not persist key last usage", "key_id", id, "error", err)
	return nil
}

// isReadOnly recognises ErrReadOnly, also as the bare message that
// storage errors become across the plugin's gRPC connection.
func isReadOnly(err error) bool {
	return errors.Is(err, logical.ErrReadOnly) || strings.Contains(err.Error(), logical.ErrReadOnly.Error())
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
	if ok && (stored == nil || !r.At.Before(stored.At)) {
		return &r.usageEntry, nil
	}
	return stored, nil
}
