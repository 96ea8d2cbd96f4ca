package kms

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// A CreateKey with an alias is several writes; this file makes it leave
// nothing visible half-made (README "Storage and caching").

// creatingEntry indexes a CreateKey with an alias until it finishes.
type creatingEntry struct {
	KeyID string    `json:"key_id"`
	Alias string    `json:"alias"`
	At    time.Time `json:"at"`
}

// createWithAlias writes a new key and its alias so that a failure or a
// crash at any step leaves nothing visible (README "Storage and caching"):
// creating/<id> (the sweep's index), the key marked Creating (invisible),
// the alias (index entry, then alias entry), then the key unmarked: the
// commit. A failed step is undone best effort, and the sweep removes what
// a crash left. A retry takes over an alias left pointing to a Creating key.
func (b *backend) createWithAlias(ctx context.Context, s logical.Storage, e *keyEntry, a *aliasEntry) error {
	entry, err := logical.StorageEntryJSON(creatingStoragePrefix+e.KeyID, &creatingEntry{KeyID: e.KeyID, Alias: a.Name, At: e.CreationDate})
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	pending := e.Clone()
	pending.Creating = true
	err = b.putKey(ctx, s, pending)
	if err == nil {
		err = b.putAlias(ctx, s, a, "")
	}
	if err == nil {
		err = b.putKey(ctx, s, e)
	}
	if err != nil {
		b.abortCreate(ctx, s, e.KeyID, a)
		return err
	}
	if err := s.Delete(ctx, creatingStoragePrefix+e.KeyID); err != nil {
		b.Logger().Warn("could not remove the creation marker; the sweep will", "key_id", e.KeyID, "error", err)
	}
	return nil
}

// abortCreate undoes a failed createWithAlias as far as storage lets it.
func (b *backend) abortCreate(ctx context.Context, s logical.Storage, id string, a *aliasEntry) {
	if cur, err := readAlias(ctx, s, a.Name); err == nil && cur != nil && cur.TargetKeyID == id {
		_ = b.deleteAlias(ctx, s, cur)
	}
	_ = s.Delete(ctx, aliasIndexKey(id, a.Name))
	b.keys.KeyAlias.Invalidate(id)
	if err := s.Delete(ctx, keyStoragePrefix+id); err == nil {
		_ = s.Delete(ctx, creatingStoragePrefix+id)
	}
	b.keys.Keys.Invalidate(id)
}

// sweepUnfinishedCreates removes keys whose CreateKey never finished (a
// crash between its writes). A CreateKey in progress holds the key's lock
// until it is done, so a key still marked Creating under the lock is dead.
func (b *backend) sweepUnfinishedCreates(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, creatingStoragePrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, b.sweepCreate(ctx, s, id))
	}
	return errors.Join(errs...)
}

func (b *backend) sweepCreate(ctx context.Context, s logical.Storage, id string) error {
	unlock := b.lockKey(id)
	defer unlock()
	e, err := b.loadKey(ctx, s, id)
	if err != nil {
		return err
	}
	if e != nil && !e.Creating {
		return s.Delete(ctx, creatingStoragePrefix+id)
	}
	return b.destroyKey(ctx, s, id, "removed a key whose creation did not finish")
}

// hideUnfinishedCreates adds to gone the keys whose CreateKey has not
// finished, for listings that do not read every key. creating/ is empty
// but for creates in progress or interrupted.
func (b *backend) hideUnfinishedCreates(ctx context.Context, s logical.Storage, gone map[string]bool) error {
	ids, err := s.List(ctx, creatingStoragePrefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e, err := b.getKey(ctx, s, id)
		if err != nil {
			return err
		}
		if e == nil || e.Creating {
			gone[id] = true
		}
	}
	return nil
}
