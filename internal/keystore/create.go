package keystore

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// A CreateKey with an alias is several writes; this file makes it leave
// nothing visible half-made (README "Storage and caching").

// CreatingEntry indexes a CreateKey with an alias until it finishes.
type CreatingEntry struct {
	KeyID string    `json:"key_id"`
	Alias string    `json:"alias"`
	At    time.Time `json:"at"`
	// CustomKeyStoreID leads the sweep to the key object of a key in a
	// custom key store even when the key entry was never written.
	CustomKeyStoreID string `json:"custom_key_store_id,omitempty"`
}

// PutCreating writes the creating/ index entry of a key being made.
func PutCreating(ctx context.Context, s logical.Storage, e *Key, alias string) error {
	entry, err := logical.StorageEntryJSON(CreatingPrefix+e.KeyID, &CreatingEntry{KeyID: e.KeyID, Alias: alias, At: e.CreationDate, CustomKeyStoreID: e.CustomKeyStoreID})
	if err != nil {
		return err
	}
	return s.Put(ctx, entry)
}

// CreateWithAlias writes a new key and its alias so that a failure or a
// crash at any step leaves nothing visible (README "Storage and caching"):
// creating/<id> (the sweep's index), the key marked Creating (invisible),
// the alias (index entry, then alias entry), then the key unmarked: the
// commit. A failed step is undone best effort, and the sweep removes what
// a crash left. A retry takes over an alias left pointing to a Creating key.
func (st *Store) CreateWithAlias(ctx context.Context, s logical.Storage, e *Key, a *Alias) error {
	if err := PutCreating(ctx, s, e, a.Name); err != nil {
		return err
	}
	pending := e.Clone()
	pending.Creating = true
	err := st.Put(ctx, s, pending)
	if err == nil {
		err = st.PutAlias(ctx, s, a, "")
	}
	if err == nil {
		err = st.Put(ctx, s, e)
	}
	if err != nil {
		st.abortCreate(ctx, s, e.KeyID, a)
		return err
	}
	if err := s.Delete(ctx, CreatingPrefix+e.KeyID); err != nil {
		st.logger().Warn("could not remove the creation marker; the sweep will", "key_id", e.KeyID, "error", err)
	}
	return nil
}

// abortCreate undoes a failed CreateWithAlias as far as storage lets it.
func (st *Store) abortCreate(ctx context.Context, s logical.Storage, id string, a *Alias) {
	if cur, err := ReadAlias(ctx, s, a.Name); err == nil && cur != nil && cur.TargetKeyID == id {
		_ = st.DeleteAlias(ctx, s, cur)
	}
	_ = s.Delete(ctx, AliasIndexKey(id, a.Name))
	st.KeyAlias.Invalidate(id)
	if err := s.Delete(ctx, KeyPrefix+id); err == nil {
		_ = s.Delete(ctx, CreatingPrefix+id)
	}
	st.Keys.Invalidate(id)
}

// SweepUnfinishedCreates removes keys whose CreateKey never finished (a
// crash between its writes). A CreateKey in progress holds the key's lock
// until it is done, so a key still marked Creating under the lock is dead.
func (st *Store) SweepUnfinishedCreates(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, CreatingPrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, st.sweepCreate(ctx, s, id))
	}
	return errors.Join(errs...)
}

func (st *Store) sweepCreate(ctx context.Context, s logical.Storage, id string) error {
	unlock := st.Lock(id)
	defer unlock()
	e, err := st.Load(ctx, s, id)
	if err != nil {
		return err
	}
	if e != nil && !e.Creating {
		return s.Delete(ctx, CreatingPrefix+id)
	}
	return st.Destroy(ctx, s, id, "removed a key whose creation did not finish")
}

// HideUnfinishedCreates adds to gone the keys whose CreateKey has not
// finished, for listings that do not read every key. creating/ is empty
// but for creates in progress or interrupted.
func (st *Store) HideUnfinishedCreates(ctx context.Context, s logical.Storage, gone map[string]bool) error {
	ids, err := s.List(ctx, CreatingPrefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e, err := st.Get(ctx, s, id)
		if err != nil {
			return err
		}
		if e == nil || e.Creating {
			gone[id] = true
		}
	}
	return nil
}
