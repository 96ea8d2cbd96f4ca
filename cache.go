package kms

import (
	"sync/atomic"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

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
