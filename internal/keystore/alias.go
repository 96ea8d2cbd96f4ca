package keystore

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Aliases are stored one entry per name, alias/<escaped name>, so that
// resolving an alias is one lookup however many aliases exist, and indexed
// by key, key-alias/<key id>/<escaped name> (empty value), so that the
// aliases of one key are one List.
//
// Write order, so that a crash at any point leaves no visible half state:
// an alias write puts the new target's index entry first, then the alias
// entry, then deletes the old target's index entry; a delete removes the
// alias entry first, then its index entry. The alias entry is the truth:
// an index entry counts only if the alias it names points to that key, so
// a leftover index entry is invisible (and overwritten or removed later).
// Alias changes are serialised by the caller (one alias lock per mount),
// since names must stay unique across all keys.
const (
	AliasIndexPrefix = "key-alias/"
)

// Alias is an alias as stored.
type Alias struct {
	Name        string    `json:"name"`
	TargetKeyID string    `json:"target_key_id"`
	CreatedAt   time.Time `json:"creation_date"`
	UpdatedAt   time.Time `json:"last_updated_date"`
}

// AliasStorageKey is the storage key of an alias name.
func AliasStorageKey(name string) string {
	return AliasPrefix + url.PathEscape(name)
}

// AliasIndexKey is the index entry of alias name on key keyID.
func AliasIndexKey(keyID, name string) string {
	return AliasIndexPrefix + keyID + "/" + url.PathEscape(name)
}

// ReadAlias reads one alias from storage; nil when it does not exist.
func ReadAlias(ctx context.Context, s logical.Storage, name string) (*Alias, error) {
	raw, err := s.Get(ctx, AliasStorageKey(name))
	if err != nil || raw == nil {
		return nil, err
	}
	a := &Alias{}
	if err := raw.DecodeJSON(a); err != nil {
		return nil, err
	}
	return a, nil
}

// GetAlias resolves an alias name, from the cache when it can (absent
// names are cached too); nil when it does not exist.
func (st *Store) GetAlias(ctx context.Context, s logical.Storage, name string) (*Alias, error) {
	if a, ok := st.Aliases.Get(name); ok {
		return a, nil
	}
	t := st.Aliases.Ticket()
	a, err := ReadAlias(ctx, s, name)
	if err != nil {
		return nil, err
	}
	st.Aliases.Fill(name, t, a)
	return a, nil
}

// AliasesOf lists the alias names that point to a key, sorted.
func (st *Store) AliasesOf(ctx context.Context, s logical.Storage, keyID string) ([]string, error) {
	if names, ok := st.KeyAlias.Get(keyID); ok {
		return names, nil
	}
	t := st.KeyAlias.Ticket()
	escaped, err := s.List(ctx, AliasIndexPrefix+keyID+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range escaped {
		name, err := url.PathUnescape(n)
		if err != nil {
			continue
		}
		a, err := st.GetAlias(ctx, s, name)
		if err != nil {
			return nil, err
		}
		if a != nil && a.TargetKeyID == keyID {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	st.KeyAlias.Fill(keyID, t, names)
	return names, nil
}

// AliasNames lists every alias name from storage, sorted, for paging.
func AliasNames(ctx context.Context, s logical.Storage) ([]string, error) {
	escaped, err := s.List(ctx, AliasPrefix)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(escaped))
	for _, n := range escaped {
		if name, err := url.PathUnescape(n); err == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// PutAlias creates or repoints an alias; the caller holds the alias lock
// and passes the alias's current target ("" for a new alias).
func (st *Store) PutAlias(ctx context.Context, s logical.Storage, a *Alias, oldTarget string) error {
	defer st.KeyAlias.Invalidate(a.TargetKeyID)
	if err := s.Put(ctx, &logical.StorageEntry{Key: AliasIndexKey(a.TargetKeyID, a.Name)}); err != nil {
		return err
	}
	entry, err := logical.StorageEntryJSON(AliasStorageKey(a.Name), a)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		st.Aliases.Invalidate(a.Name)
		return err
	}
	st.Aliases.Put(a.Name, a)
	if oldTarget != "" && oldTarget != a.TargetKeyID {
		st.KeyAlias.Invalidate(oldTarget)
		return s.Delete(ctx, AliasIndexKey(oldTarget, a.Name))
	}
	return nil
}

// DeleteAlias removes an alias; the caller holds the alias lock.
func (st *Store) DeleteAlias(ctx context.Context, s logical.Storage, a *Alias) error {
	defer st.KeyAlias.Invalidate(a.TargetKeyID)
	if err := s.Delete(ctx, AliasStorageKey(a.Name)); err != nil {
		st.Aliases.Invalidate(a.Name)
		return err
	}
	st.Aliases.Put(a.Name, nil)
	return s.Delete(ctx, AliasIndexKey(a.TargetKeyID, a.Name))
}

// Invalidate drops what the caches hold of a storage key another node
// changed (Vault's Invalidate); it reports whether the key was the store's.
func (st *Store) Invalidate(key string) bool {
	if id, ok := strings.CutPrefix(key, KeyPrefix); ok {
		st.Keys.Invalidate(id)
		return true
	}
	if rest, ok := strings.CutPrefix(key, AliasPrefix); ok {
		if name, err := url.PathUnescape(rest); err == nil {
			st.Aliases.Invalidate(name)
		}
		return true
	}
	if rest, ok := strings.CutPrefix(key, AliasIndexPrefix); ok {
		keyID, _, _ := strings.Cut(rest, "/")
		st.KeyAlias.Invalidate(keyID)
		return true
	}
	if strings.HasPrefix(key, RotationPrefix) {
		st.rotations.invalidate()
		return true
	}
	return st.invalidateEncryptions(key)
}

// AliasFree checks, under the alias lock and from storage, that an alias
// name can be taken. An alias left pointing to a key whose CreateKey never
// finished is free: that key is invisible and the sweep removes it.
func (st *Store) AliasFree(ctx context.Context, s logical.Storage, name string) error {
	a, err := ReadAlias(ctx, s, name)
	if err != nil || a == nil {
		return err
	}
	k, err := st.Read(ctx, s, a.TargetKeyID, nil)
	if err != nil {
		return err
	}
	if k != nil && k.Creating {
		return nil
	}
	return kmserr.New(kmserr.AlreadyExists, "alias %s already exists", name)
}

// LiveAlias is GetAlias for what callers see: an alias left pointing to a
// key whose CreateKey never finished does not exist.
func (st *Store) LiveAlias(ctx context.Context, s logical.Storage, name string) (*Alias, error) {
	a, err := st.GetAlias(ctx, s, name)
	if err != nil || a == nil {
		return nil, err
	}
	k, err := st.Get(ctx, s, a.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if k != nil && k.Creating {
		return nil, nil
	}
	return a, nil
}
