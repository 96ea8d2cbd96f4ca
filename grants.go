package kms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"sync/atomic"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// Grants live in internal/access (entries, index, constraints, storage,
// tokens); this is the glue to the mount's grant cache and token key.

type (
	grantEntry = access.Grant
	grantIndex = access.GrantIndex
)

const (
	grantStoragePrefix    = access.GrantStoragePrefix
	retiringStoragePrefix = access.RetiringStoragePrefix
	grantTokenKeyPath     = "grant-token-key"
)

// grants returns a key's grant index, loading it on first use. A load that
// raced with a grant write or an Invalidate is not cached.
func (b *backend) grants(ctx context.Context, s logical.Storage, keyID string) (*grantIndex, error) {
	if x, ok := b.cache.grants.Get(keyID); ok {
		return x, nil
	}
	t := b.cache.grants.Ticket()
	x, err := access.ReadGrants(ctx, s, keyID)
	if err != nil {
		return nil, err
	}
	b.cache.grants.Fill(keyID, t, x)
	return x, nil
}

// lockedGrants returns a key's grant index for a read-modify-write, under
// the key's lock. Grant entries are immutable (created, then deleted), so
// the cached index is current exactly when it holds the grant ids storage
// lists: one List checks it, and a mismatch reloads from storage.
func (b *backend) lockedGrants(ctx context.Context, s logical.Storage, keyID string) (*grantIndex, error) {
	t := b.cache.grants.Ticket()
	ids, err := access.ListGrantIDs(ctx, s, keyID)
	if err != nil {
		return nil, err
	}
	if x, ok := b.cache.grants.Get(keyID); ok && x.HasExactly(ids) {
		return x, nil
	}
	x, err := access.ReadGrants(ctx, s, keyID)
	if err != nil {
		return nil, err
	}
	b.cache.grants.Fill(keyID, t, x)
	return x, nil
}

// putGrant and deleteGrant run under the key's lock.
func (b *backend) putGrant(ctx context.Context, s logical.Storage, x *grantIndex, g *grantEntry) error {
	if err := access.PutGrant(ctx, s, g); err != nil {
		b.cache.grants.Invalidate(g.KeyID)
		return err
	}
	x.Add(g)
	b.cache.grants.Put(g.KeyID, x)
	return nil
}

func (b *backend) deleteGrant(ctx context.Context, s logical.Storage, x *grantIndex, g *grantEntry) error {
	if err := access.DeleteGrant(ctx, s, g, b.Logger()); err != nil {
		b.cache.grants.Invalidate(g.KeyID)
		return err
	}
	x.Remove(g.GrantID)
	b.cache.grants.Put(g.KeyID, x)
	return nil
}

// retirableGrants reads the grants whose retiring principal is p.
func (b *backend) retirableGrants(ctx context.Context, s logical.Storage, p string) ([]*grantEntry, error) {
	return access.RetirableGrants(ctx, s, p)
}

// deleteAllGrants removes a key's grants when the key is destroyed.
func (b *backend) deleteAllGrants(ctx context.Context, s logical.Storage, keyID string) error {
	err := access.DeleteAllGrants(ctx, s, keyID)
	b.cache.grants.Invalidate(keyID)
	return err
}

// tokenKey is the mount's secret for tokens (grant and import tokens),
// created on first use; tokenMAC derives each purpose's key from it.
func (b *backend) tokenKey(ctx context.Context, s logical.Storage) ([]byte, error) {
	if k := b.cache.tokenKey.Load(); k != nil {
		return *k, nil
	}
	b.mountLock.Lock()
	defer b.mountLock.Unlock()
	raw, err := s.Get(ctx, grantTokenKeyPath)
	if err != nil {
		return nil, err
	}
	var key []byte
	if raw != nil {
		key = raw.Value
	} else {
		key = make([]byte, 32)
		if _, err := io.ReadFull(b.random, key); err != nil {
			return nil, err
		}
		if err := s.Put(ctx, &logical.StorageEntry{Key: grantTokenKeyPath, Value: key, SealWrap: true}); err != nil {
			return nil, err
		}
	}
	b.cache.tokenKey.Store(&key)
	return key, nil
}

// Token purposes. Each MACs under its own key, derived from the mount's
// token key and the purpose's label, so a token of one purpose can never
// verify as a token of another (a grant token as an import token, say).
const (
	purposeGrantToken  = "vault-plugin-kms/grant-token/v1"
	purposeImportToken = "vault-plugin-kms/import-token/v1"
)

// tokenMAC is HMAC-SHA256, under the purpose's key, of the fields, each
// length-prefixed so no two field lists share an encoding.
func tokenMAC(key []byte, purpose string, fields ...string) string {
	d := hmac.New(sha256.New, key)
	d.Write([]byte(purpose))
	m := hmac.New(sha256.New, d.Sum(nil))
	for _, f := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (b *backend) grantToken(ctx context.Context, s logical.Storage, g *grantEntry) (string, error) {
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return "", err
	}
	return access.GrantToken(g, func(fields ...string) string { return tokenMAC(key, purposeGrantToken, fields...) }), nil
}

// parseGrantToken checks a token's MAC and returns the key and grant ids.
func (b *backend) parseGrantToken(ctx context.Context, s logical.Storage, token string) (string, string, error) {
	return access.ParseGrantToken(token, func(fields ...string) (string, error) {
		key, err := b.tokenKey(ctx, s)
		if err != nil {
			return "", err
		}
		return tokenMAC(key, purposeGrantToken, fields...), nil
	})
}

// cache holds grant indexes and the token key; keys and aliases are
// cached by the key store (internal/keystore), whose caches reset with
// these.
type cache struct {
	grants   *keystore.GenCache[*grantIndex] // key id
	tokenKey atomic.Pointer[[]byte]
	store    *keystore.Store
}

func newCache(store *keystore.Store) *cache {
	return &cache{grants: keystore.NewGenCache[*grantIndex](), store: store}
}

func (c *cache) reset() {
	c.store.Reset()
	c.grants.Reset()
	c.tokenKey.Store(nil)
}

// setKeyLimit bounds the per-key caches (see keystore.Store.SetKeyLimit).
func (c *cache) setKeyLimit(n int) {
	c.store.SetKeyLimit(n)
	c.grants.SetLimit(n)
}

const keyCacheBytesPerKey = keystore.KeyCacheBytesPerKey
