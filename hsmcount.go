package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// countEncryption counts one encryption in the token with e against the
// random-IV bound before it is made (keystore.CountEncryption: from
// memory, with a storage write per reserved block). A dry run checks the
// bound and stops there: it neither reserves an encryption nor spends an
// IV in the token.
func (b *backend) countEncryption(ctx context.Context, s logical.Storage, e *keystore.Key) error {
	if awsapi.IsDryRun(ctx) {
		if err := b.keys.EncryptionAllowed(ctx, s, e.KeyID); err != nil {
			return err
		}
		return awsapi.DryRunStop(ctx)
	}
	return b.keys.CountEncryption(ctx, s, e.KeyID)
}
