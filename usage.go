package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// Last-usage records are kept by the key store (internal/keystore/usage.go).

const usageStoragePrefix = keystore.UsagePrefix

type usageEntry = keystore.UsageEntry

func (b *backend) recordUse(ctx context.Context, s logical.Storage, id, op, requestID string) {
	b.keys.RecordUse(ctx, s, id, op, requestID)
}

func (b *backend) forwardForUsage(id string) error { return b.keys.ForwardForUsage(id) }

func (b *backend) lastUse(ctx context.Context, s logical.Storage, id string) (*usageEntry, error) {
	return b.keys.LastUse(ctx, s, id)
}
