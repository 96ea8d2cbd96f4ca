package kms

import (
	"context"
	"regexp"
	"strconv"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// maxPoolSize bounds each data key pair pool.
const maxPoolSize = 64

var (
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+$`)
	accountPattern   = regexp.MustCompile(`^[0-9]{12}$`)
)

func pathConfig(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      "config$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "configuration"},
		Fields: map[string]*framework.FieldSchema{
			"data_key_pair_pool": {Type: framework.TypeKVPairs,
				Description: "Pre-generated data key pairs to keep in memory per key pair spec, as SPEC=N (0..64), e.g. RSA_4096=4. Off (0) by default."},
			"partition": {Type: framework.TypeString,
				Description: "AWS partition in the mount's ARNs (default " + defaultPartition + ")."},
			"region": {Type: framework.TypeString,
				Description: "Region in the mount's ARNs (default " + defaultRegion + ")."},
			"account_id": {Type: framework.TypeString,
				Description: "12-digit account id in the mount's ARNs (default " + defaultAccountID + ")."},
			"key_cache_size": {Type: framework.TypeInt,
				Description: "Parsed keys kept in memory (LRU), at least " + strconv.Itoa(minKeyCacheSize) + "; 0 restores the default " + strconv.Itoa(defaultKeyCacheSize) + "."},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation:   &framework.PathOperation{Callback: b.pathConfigRead, Summary: "Read the mount's configuration."},
			logical.UpdateOperation: &framework.PathOperation{Callback: b.pathConfigWrite, Summary: "Configure the mount."},
		},
		HelpSynopsis:    "Configure the KMS mount.",
		HelpDescription: pathConfigHelp,
	}
}

func (b *backend) pathConfigRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	c, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: b.configData(c)}, nil
}

func (b *backend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	cur, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	next := *cur
	if raw, ok := d.GetOk("data_key_pair_pool"); ok {
		pool := map[string]int{}
		for spec, v := range raw.(map[string]string) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxPoolSize {
				return nil, kmserr.Validationf("data_key_pair_pool: the size for %s must be 0..%d", spec, maxPoolSize)
			}
			if s, ok := keyspec.Lookup(spec); !ok || !s.KeyPair {
				return nil, kmserr.Validationf("data_key_pair_pool names a spec that is not a key pair spec; valid: %s", keyspec.OneOf(keyspec.DataKeyPairSpecs()))
			}
			if n > 0 {
				pool[spec] = n
			}
		}
		next.DataKeyPairPool = pool
	}
	for _, f := range []struct {
		name    string
		dst     *string
		pattern *regexp.Regexp
	}{
		{"partition", &next.Partition, partitionPattern},
		{"region", &next.Region, regionPattern},
		{"account_id", &next.AccountID, accountPattern},
	} {
		if raw, ok := d.GetOk(f.name); ok {
			v := raw.(string)
			if v != "" && !f.pattern.MatchString(v) {
				return nil, kmserr.Validationf("%s must match %s", f.name, f.pattern)
			}
			*f.dst = v
		}
	}
	if raw, ok := d.GetOk("key_cache_size"); ok {
		n := raw.(int)
		if n != 0 && n < minKeyCacheSize {
			return nil, kmserr.Validationf("key_cache_size must be at least %d (or 0 for the default %d)", minKeyCacheSize, defaultKeyCacheSize)
		}
		next.KeyCacheSize = n
	}
	entry, err := logical.StorageEntryJSON(configStorageKey, &next)
	if err != nil {
		return nil, err
	}
	b.mountLock.Lock()
	defer b.mountLock.Unlock()
	if err := req.Storage.Put(ctx, entry); err != nil {
		return nil, err
	}
	b.pool.Configure(next.DataKeyPairPool)
	b.cache.setKeyLimit(next.keyCacheSize())
	b.cfg.Store(&next)
	return &logical.Response{Data: b.configData(&next)}, nil
}

func (b *backend) configData(c *configEntry) map[string]any {
	pool := map[string]any{}
	for k, v := range c.DataKeyPairPool {
		pool[k] = v
	}
	ready := map[string]any{}
	for k, v := range b.pool.Ready() {
		ready[k] = v
	}
	return map[string]any{
		"data_key_pair_pool": pool, "data_key_pair_pool_ready": ready,
		"partition":      orDefault(c.Partition, defaultPartition),
		"region":         orDefault(c.Region, defaultRegion),
		"account_id":     orDefault(c.AccountID, defaultAccountID),
		"key_arn_format": string(c.arns()) + "key/<key id>",
		"key_cache_size": c.keyCacheSize(),
	}
}

const pathConfigHelp = `
partition, region and account_id make up the ARNs of the mount's keys and
aliases: arn:<partition>:kms:<region>:<account_id>:key/<key id> and
...:alias/<name> (defaults aws, us-east-1, 000000000000). A key ARN with
other parts does not name a key of this mount (NotFoundException), so
changing them after clients stored ARNs breaks those ARNs; key ids and
alias names keep working.

key_cache_size bounds the parsed keys kept in memory (least recently used
first out; default 100000; also at most key_cache_size x 10 KiB of parsed
keys weighed by spec, about 1 GiB by default); a key not cached is read
from storage and parsed again on its next use.

data_key_pair_pool keeps pre-generated key pairs in memory for the data key
pair operations, per key pair spec (for example RSA_4096=4), so a request
does not wait for RSA generation. The pool is off by default: it costs CPU
on every node in the background even when nobody asks for pairs, and it
holds private keys in memory before they are requested. Pooled pairs are
never persisted and each is handed out once. See docs/API.md for latency
figures with and without a pool.
`
