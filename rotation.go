package kms

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// Automatic rotation is scheduled and run by the key store
// (internal/keystore/rotation.go).

const rotationStoragePrefix = keystore.RotationPrefix

// Rotation types of key material versions, as AWS's ListKeyRotations.
const (
	rotationAutomatic = keystore.RotationAutomatic
	rotationOnDemand  = keystore.RotationOnDemand
)

func (b *backend) scheduleRotation(ctx context.Context, s logical.Storage, e *keyEntry) error {
	return b.keys.ScheduleRotation(ctx, s, e)
}

func (b *backend) rotateDueKeys(ctx context.Context, s logical.Storage) error {
	return b.keys.RotateDueKeys(ctx, s)
}

func (b *backend) rotate(e *keyEntry, kind string, now time.Time) error {
	return b.keys.Rotate(e, kind, now)
}
