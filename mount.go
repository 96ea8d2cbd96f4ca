package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// The mount's configuration (kms/config), loaded once and dropped when it
// changes here or on another node (Invalidate), and what every request
// reads from it: the ARN scheme its key references are resolved under and
// the account its callers belong to.

const configStorageKey = "config"

type configEntry struct {
	// DataKeyPairPool is the number of pre-generated pairs to keep per
	// key pair spec; absent or 0 means no pool.
	DataKeyPairPool map[string]int `json:"data_key_pair_pool,omitempty"`

	// Partition, Region and AccountID make up the ARNs of this mount's
	// keys and aliases; empty means the default.
	Partition string `json:"partition,omitempty"`
	Region    string `json:"region,omitempty"`
	AccountID string `json:"account_id,omitempty"`

	// KeyCacheSize bounds the parsed keys cached in memory; 0 means
	// defaultKeyCacheSize.
	KeyCacheSize int `json:"key_cache_size,omitempty"`
}

// The key cache is an LRU of parsed keys, bounded by count and by their
// estimated size (key_cache_size x keyCacheBytesPerKey, weighed per spec:
// a symmetric key ~2 KiB, an ML-DSA key up to ~110 KiB), so the default
// keeps the cache under about 1 GiB, half of a 2 GiB plugin.
const (
	defaultKeyCacheSize = 100000
	minKeyCacheSize     = 10
)

func (c *configEntry) keyCacheSize() int {
	if c.KeyCacheSize == 0 {
		return defaultKeyCacheSize
	}
	return c.KeyCacheSize
}

// Defaults of the ARN parts, like local-kms's KMS_REGION/KMS_ACCOUNT_ID.
const (
	defaultPartition = "aws"
	defaultRegion    = "us-east-1"
	defaultAccountID = "000000000000"
)

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// arns is the mount's ARN scheme.
func (c *configEntry) arns() keystore.ARNScheme {
	return keystore.ARNScheme("arn:" + orDefault(c.Partition, defaultPartition) + ":kms:" +
		orDefault(c.Region, defaultRegion) + ":" + orDefault(c.AccountID, defaultAccountID) + ":")
}

// config returns the mount's configuration, loading it (and applying it to
// the key pool) after a start or an invalidation.
func (b *backend) config(ctx context.Context, s logical.Storage) (*configEntry, error) {
	if c := b.cfg.Load(); c != nil {
		return c, nil
	}
	b.mountLock.Lock()
	defer b.mountLock.Unlock()
	if c := b.cfg.Load(); c != nil {
		return c, nil
	}
	// An Invalidate that lands while storage is read may carry a newer
	// configuration than the one read: then this request uses what it read,
	// and the next one loads again.
	gen := b.cfgGen.Load()
	c := &configEntry{}
	raw, err := s.Get(ctx, configStorageKey)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if err := raw.DecodeJSON(c); err != nil {
			return nil, err
		}
	}
	if b.cfgGen.Load() != gen {
		return c, nil
	}
	b.pool.Configure(c.DataKeyPairPool)
	b.cache.setKeyLimit(c.keyCacheSize())
	b.cfg.Store(c)
	return c, nil
}

// arns returns the mount's ARN scheme.
func (b *backend) arns(ctx context.Context, s logical.Storage) (keystore.ARNScheme, error) {
	c, err := b.config(ctx, s)
	if err != nil {
		return "", err
	}
	return c.arns(), nil
}

func (c *configEntry) account() awspolicy.Account {
	return awspolicy.Account{Partition: orDefault(c.Partition, defaultPartition), ID: orDefault(c.AccountID, defaultAccountID)}
}

// resolveKey resolves a key reference (key id, key ARN, alias name or
// alias ARN) under the mount's ARN scheme.
func (b *backend) resolveKey(ctx context.Context, s logical.Storage, ref string, allowAlias bool) (*keystore.Key, error) {
	arns, err := b.arns(ctx, s)
	if err != nil {
		return nil, err
	}
	return b.keys.Resolve(ctx, s, arns, ref, allowAlias)
}
