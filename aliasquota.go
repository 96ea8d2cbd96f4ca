package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// maxAliasesPerKey is AWS's quota of aliases per KMS key. It bounds
// kms:ResourceAliases, whose values every request to the key reads (from
// the alias index) and matches against the key policy's patterns.
var maxAliasesPerKey = 50

// aliasRoom refuses, under aliasLock, an alias for key keyID when the key
// already has maxAliasesPerKey of them (LimitExceededException), as AWS
// does; the alias named name, if it already points to the key, is not
// counted twice.
func (b *backend) aliasRoom(ctx context.Context, s logical.Storage, keyID, name string) error {
	names, err := b.aliasesOf(ctx, s, keyID)
	if err != nil {
		return err
	}
	n := len(names)
	for _, have := range names {
		if have == name {
			return nil
		}
	}
	if n >= maxAliasesPerKey {
		return kmserr.New(kmserr.LimitExceeded, "key '%s' already has %d aliases, the most a key can have", keyID, maxAliasesPerKey)
	}
	return nil
}
