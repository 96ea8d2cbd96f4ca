package keystore

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// MaxAliasesPerKey is AWS's quota of aliases per KMS key. It bounds
// kms:ResourceAliases, whose values every request to the key reads (from
// the alias index) and matches against the key policy's patterns.
var MaxAliasesPerKey = 50

// AliasRoom refuses, under the caller's alias lock, an alias for key keyID
// when the key already has MaxAliasesPerKey of them
// (LimitExceededException), as AWS does; the alias named name, if it
// already points to the key, is not counted twice.
func (st *Store) AliasRoom(ctx context.Context, s logical.Storage, keyID, name string) error {
	names, err := st.AliasesOf(ctx, s, keyID)
	if err != nil {
		return err
	}
	for _, have := range names {
		if have == name {
			return nil
		}
	}
	if len(names) >= MaxAliasesPerKey {
		return kmserr.New(kmserr.LimitExceeded, "key '%s' already has %d aliases, the most a key can have", keyID, MaxAliasesPerKey)
	}
	return nil
}
