package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// The key store lives in internal/keystore; these names keep the path
// files' spelling while the packages below the root take shape (issue 23).
type (
	keyEntry      = keystore.Key
	keyVersion    = keystore.Version
	aliasEntry    = keystore.Alias
	deletionEntry = keystore.DeletionEntry
	// arnScheme is the mount's ARN prefix.
	arnScheme = keystore.ARNScheme
)

// Storage layout: see docs/STORAGE.md.
const (
	keyStoragePrefix      = keystore.KeyPrefix
	creatingStoragePrefix = keystore.CreatingPrefix
	aliasStoragePrefix    = keystore.AliasPrefix
	deletionStoragePrefix = keystore.DeletionPrefix
)

const (
	stateEnabled         = keystore.StateEnabled
	stateDisabled        = keystore.StateDisabled
	statePendingDeletion = keystore.StatePendingDeletion
	statePendingImport   = keystore.StatePendingImport

	originAWSKMS   = keystore.OriginAWSKMS
	originExternal = keystore.OriginExternal
	// originCloudHSM is a key in a custom key store.
	originCloudHSM = keystore.OriginCloudHSM
)

func (b *backend) readKey(ctx context.Context, s logical.Storage, id string, prev *keyEntry) (*keyEntry, error) {
	return b.keys.Read(ctx, s, id, prev)
}

func (b *backend) getKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	return b.keys.Get(ctx, s, id)
}

func (b *backend) loadKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	return b.keys.Load(ctx, s, id)
}

func (b *backend) putKey(ctx context.Context, s logical.Storage, e *keyEntry) error {
	return b.keys.Put(ctx, s, e)
}

func (b *backend) lockKey(id string) func() { return b.keys.Lock(id) }

func (b *backend) isDeleted(e *keyEntry) bool { return b.keys.IsDeleted(e) }

func (b *backend) deleteDueKeys(ctx context.Context, s logical.Storage) error {
	return b.keys.DeleteDueKeys(ctx, s)
}

func (b *backend) sweepUnfinishedCreates(ctx context.Context, s logical.Storage) error {
	return b.keys.SweepUnfinishedCreates(ctx, s)
}

func (b *backend) createWithAlias(ctx context.Context, s logical.Storage, e *keyEntry, a *aliasEntry) error {
	return b.keys.CreateWithAlias(ctx, s, e, a)
}

func (b *backend) hideUnfinishedCreates(ctx context.Context, s logical.Storage, gone map[string]bool) error {
	return b.keys.HideUnfinishedCreates(ctx, s, gone)
}

func (b *backend) dueDeletions(ctx context.Context, s logical.Storage) (map[string]bool, error) {
	return b.keys.DueDeletions(ctx, s)
}

func (b *backend) resolveKey(ctx context.Context, s logical.Storage, ref string, allowAlias bool) (*keyEntry, error) {
	return b.keys.Resolve(ctx, s, ref, allowAlias)
}
