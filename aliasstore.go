package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// Aliases and their index live in internal/keystore; these are the names
// the path files call. Alias changes hold b.aliasLock.

const aliasIndexPrefix = keystore.AliasIndexPrefix

func aliasStorageKey(name string) string { return keystore.AliasStorageKey(name) }

func aliasIndexKey(keyID, name string) string { return keystore.AliasIndexKey(keyID, name) }

func readAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	return keystore.ReadAlias(ctx, s, name)
}

func aliasNames(ctx context.Context, s logical.Storage) ([]string, error) {
	return keystore.AliasNames(ctx, s)
}

func (b *backend) getAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	return b.keys.GetAlias(ctx, s, name)
}

func (b *backend) aliasesOf(ctx context.Context, s logical.Storage, keyID string) ([]string, error) {
	return b.keys.AliasesOf(ctx, s, keyID)
}

func (b *backend) putAlias(ctx context.Context, s logical.Storage, a *aliasEntry, oldTarget string) error {
	return b.keys.PutAlias(ctx, s, a, oldTarget)
}

func (b *backend) deleteAlias(ctx context.Context, s logical.Storage, a *aliasEntry) error {
	return b.keys.DeleteAlias(ctx, s, a)
}

func (b *backend) aliasFree(ctx context.Context, s logical.Storage, name string) error {
	return b.keys.AliasFree(ctx, s, name)
}

func (b *backend) liveAlias(ctx context.Context, s logical.Storage, name string) (*aliasEntry, error) {
	return b.keys.LiveAlias(ctx, s, name)
}
