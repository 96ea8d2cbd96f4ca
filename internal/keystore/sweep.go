package keystore

import (
	"context"
	"errors"
	"net/url"

	"github.com/hashicorp/vault/sdk/logical"
)

// DeleteDueKeys destroys the keys whose deletion window has ended, with
// their aliases. It reads only the small index of keys pending deletion.
func (st *Store) DeleteDueKeys(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, DeletionPrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, st.deleteIfDue(ctx, s, id))
	}
	return errors.Join(errs...)
}

func (st *Store) deleteIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := st.Lock(id)
	defer unlock()
	k, err := st.Load(ctx, s, id)
	if err != nil {
		return err
	}
	if k != nil && !st.IsDeleted(k) {
		return nil
	}
	return st.Destroy(ctx, s, id, "deleted key at the end of its deletion window")
}

// Destroy removes a key with its aliases, grants (Deps.DeleteGrants) and
// index entries; the caller holds the key's lock. The key entry goes last
// but one, so a failure at any step leaves a key that is still invisible
// (past its deletion date, or never finished) and that the next sweep
// removes; the index entry that leads the sweep to it goes last.
func (st *Store) Destroy(ctx context.Context, s logical.Storage, id, why string) error {
	if err := st.releaseHSM(ctx, s, id); err != nil {
		return err
	}
	st.AliasLock.Lock()
	defer st.AliasLock.Unlock()
	if err := st.deleteAliasesOf(ctx, s, id); err != nil {
		return err
	}
	if st.deps.DeleteGrants != nil {
		if err := st.deps.DeleteGrants(ctx, s, id); err != nil {
			return err
		}
	}
	for _, index := range []string{RotationPrefix, ImportPrefix, ExpiryPrefix, UsagePrefix, EncryptionCountPrefix} {
		if err := s.Delete(ctx, index+id); err != nil {
			return err
		}
	}
	st.encryptions.Invalidate(id)
	st.KeyAlias.Invalidate(id)
	if err := s.Delete(ctx, KeyPrefix+id); err != nil {
		st.Keys.Invalidate(id)
		return err
	}
	st.Keys.Invalidate(id)
	st.logger().Info(why, "key_id", id)
	if err := s.Delete(ctx, CreatingPrefix+id); err != nil {
		return err
	}
	return s.Delete(ctx, DeletionPrefix+id)
}

// deleteAliasesOf deletes a key's aliases, from storage: each index
// entry's alias is deleted if it still points here, and the entry itself
// in any case. The caller holds AliasLock.
func (st *Store) deleteAliasesOf(ctx context.Context, s logical.Storage, id string) error {
	indexed, err := s.List(ctx, AliasIndexPrefix+id+"/")
	if err != nil {
		return err
	}
	for _, n := range indexed {
		name, err := url.PathUnescape(n)
		if err != nil {
			return err
		}
		a, err := ReadAlias(ctx, s, name)
		if err != nil {
			return err
		}
		if a != nil && a.TargetKeyID == id {
			err = st.DeleteAlias(ctx, s, a)
		} else {
			err = s.Delete(ctx, AliasIndexPrefix+id+"/"+n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DueDeletions returns the keys whose deletion window has ended but which
// the periodic sweep has not destroyed yet: gone for every caller.
func (st *Store) DueDeletions(ctx context.Context, s logical.Storage) (map[string]bool, error) {
	ids, err := s.List(ctx, DeletionPrefix)
	if err != nil {
		return nil, err
	}
	due := map[string]bool{}
	for _, id := range ids {
		raw, err := s.Get(ctx, DeletionPrefix+id)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		var de DeletionEntry
		if err := raw.DecodeJSON(&de); err != nil {
			return nil, err
		}
		if !st.now().Before(de.DeletionDate) {
			due[id] = true
		}
	}
	return due, nil
}

// releaseHSM destroys the token objects of a key in a custom key store,
// first: if the store cannot (it is not connected), nothing else goes and
// the next sweep tries again. A key whose entry was never written (a
// crashed create) is found through its creating/ entry.
func (st *Store) releaseHSM(ctx context.Context, s logical.Storage, id string) error {
	if st.deps.ReleaseHSM == nil {
		return nil
	}
	k, err := st.Load(ctx, s, id)
	if err != nil {
		return err
	}
	var store string
	var labels []string
	if k != nil {
		store, labels = k.CustomKeyStoreID, k.HSMLabels()
	}
	if store == "" {
		raw, err := s.Get(ctx, CreatingPrefix+id)
		if err != nil {
			return err
		}
		var ce CreatingEntry
		if raw != nil {
			if err := raw.DecodeJSON(&ce); err != nil {
				return err
			}
		}
		store = ce.CustomKeyStoreID
	}
	if store == "" {
		return nil
	}
	if len(labels) == 0 {
		labels = []string{HSMObjectLabel(id, 1)}
	}
	return st.deps.ReleaseHSM(ctx, s, store, id, labels)
}
