package kms

import (
	"context"
	"net/url"
	"sort"
	"strings"

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
const (
	aliasIndexPrefix  = "key-alias/"
	aliasIndexVersion = "alias-index-version" // present once key-alias/ is complete
)

func aliasStorageKey(name string) string {
	return aliasStoragePrefix + url.PathEscape(name)
}

func aliasIndexKey(keyID, name string) string {
	return aliasIndexPrefix + keyID + "/" + url.PathEscape(name)
}

// readAlias reads one alias from storage; nil when it does not exist.
func readAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	raw, err := s.Get(ctx, aliasStorageKey(name))
	if err != nil || raw == nil {
		return nil, err
	}
	a := &aliasEntry{}
	if err := raw.DecodeJSON(a); err != nil {
		return nil, err
	}
	return a, nil
}

// getAlias resolves an alias name, from the cache when it can (absent
// names are cached too); nil when it does not exist.
func (b *backend) getAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	if a, ok := b.cache.aliases.get(name); ok {
		return a, nil
	}
	t := b.cache.aliases.ticket()
	a, err := readAlias(ctx, s, name)
	if err != nil {
		return nil, err
	}
	b.cache.aliases.fill(name, t, a)
	return a, nil
}

// aliasesOf lists the alias names that point to a key, sorted.
func (b *backend) aliasesOf(ctx context.Context, s logical.Storage, keyID string) ([]string, error) {
	if names, ok := b.cache.keyAlias.get(keyID); ok {
		return names, nil
	}
	t := b.cache.keyAlias.ticket()
	escaped, err := s.List(ctx, aliasIndexPrefix+keyID+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range escaped {
		name, err := url.PathUnescape(n)
		if err != nil {
			continue
		}
		a, err := b.getAlias(ctx, s, name)
		if err != nil {
			return nil, err
		}
		if a != nil && a.TargetKeyID == keyID {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	b.cache.keyAlias.fill(keyID, t, names)
	return names, nil
}

// aliasNames lists every alias name from storage, sorted, for paging.
func aliasNames(ctx context.Context, s logical.Storage) ([]string, error) {
	escaped, err := s.List(ctx, aliasStoragePrefix)
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

// putAlias creates or repoints an alias; the caller holds aliasLock and
// passes the alias's current target ("" for a new alias).
func (b *backend) putAlias(ctx context.Context, s logical.Storage, a *aliasEntry, oldTarget string) error {
	defer b.cache.keyAlias.invalidate(a.TargetKeyID)
	if err := s.Put(ctx, &logical.StorageEntry{Key: aliasIndexKey(a.TargetKeyID, a.Name)}); err != nil {
		return err
	}
	entry, err := logical.StorageEntryJSON(aliasStorageKey(a.Name), a)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		b.cache.aliases.invalidate(a.Name)
		return err
	}
	b.cache.aliases.put(a.Name, a)
	if oldTarget != "" && oldTarget != a.TargetKeyID {
		b.cache.keyAlias.invalidate(oldTarget)
		return s.Delete(ctx, aliasIndexKey(oldTarget, a.Name))
	}
	return nil
}

// deleteAlias removes an alias; the caller holds aliasLock.
func (b *backend) deleteAlias(ctx context.Context, s logical.Storage, a *aliasEntry) error {
	defer b.cache.keyAlias.invalidate(a.TargetKeyID)
	if err := s.Delete(ctx, aliasStorageKey(a.Name)); err != nil {
		b.cache.aliases.invalidate(a.Name)
		return err
	}
	b.cache.aliases.put(a.Name, nil)
	return s.Delete(ctx, aliasIndexKey(a.TargetKeyID, a.Name))
}

// invalidateAlias handles Invalidate for alias/ and key-alias/ keys.
func (b *backend) invalidateAlias(key string) {
	if rest, ok := strings.CutPrefix(key, aliasStoragePrefix); ok {
		if name, err := url.PathUnescape(rest); err == nil {
			b.cache.aliases.invalidate(name)
		}
		return
	}
	if rest, ok := strings.CutPrefix(key, aliasIndexPrefix); ok {
		keyID, _, _ := strings.Cut(rest, "/")
		b.cache.keyAlias.invalidate(keyID)
	}
}

// indexAliases builds key-alias/ from alias/ once, for mounts whose aliases
// predate the index. It runs on the active node at initialization.
func (b *backend) indexAliases(ctx context.Context, s logical.Storage) error {
	done, err := s.Get(ctx, aliasIndexVersion)
	if err != nil || done != nil {
		return err
	}
	names, err := aliasNames(ctx, s)
	if err != nil {
		return err
	}
	for _, name := range names {
		a, err := readAlias(ctx, s, name)
		if err != nil {
			return err
		}
		if a == nil {
			continue
		}
		if err := s.Put(ctx, &logical.StorageEntry{Key: aliasIndexKey(a.TargetKeyID, a.Name)}); err != nil {
			return err
		}
	}
	return s.Put(ctx, &logical.StorageEntry{Key: aliasIndexVersion, Value: []byte("1")})
}

// aliasFree checks, under aliasLock and from storage, that an alias name
// can be taken. An alias left pointing to a key whose CreateKey never
// finished is free: that key is invisible and the sweep removes it.
func (b *backend) aliasFree(ctx context.Context, s logical.Storage, name string) error {
	a, err := readAlias(ctx, s, name)
	if err != nil || a == nil {
		return err
	}
	e, err := readKey(ctx, s, a.TargetKeyID, nil)
	if err != nil {
		return err
	}
	if e != nil && e.Creating {
		return nil
	}
	return kmserr.New(kmserr.AlreadyExists, "alias %s already exists", name)
}

// liveAlias is getAlias for what callers see: an alias left pointing to a
// key whose CreateKey never finished does not exist.
func (b *backend) liveAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	a, err := b.getAlias(ctx, s, name)
	if err != nil || a == nil {
		return nil, err
	}
	e, err := b.getKey(ctx, s, a.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if e != nil && e.Creating {
		return nil, nil
	}
	return a, nil
}
