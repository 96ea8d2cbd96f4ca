package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Key material states and import states, as AWS's ListKeyRotations names
// them.
const (
	materialCurrent         = keystore.MaterialCurrent
	materialNonCurrent      = keystore.MaterialNonCurrent
	materialPendingRotation = keystore.MaterialPendingRotation
	importImported          = "IMPORTED"
	importPending           = "PENDING_IMPORT"

	importNewMaterial      = "NEW_KEY_MATERIAL"
	importExistingMaterial = "EXISTING_KEY_MATERIAL"

	includeAllMaterial   = "ALL_KEY_MATERIAL"
	includeRotationsOnly = "ROTATIONS_ONLY"

	// AWS's limit on KeyMaterialDescription.
	maxMaterialDescription = 256
)

func materialID(tokenKey []byte, keyID string, material []byte) string {
	return keystore.MaterialID(tokenKey, keyID, material)
}

func (b *backend) materialIDs(ctx context.Context, s logical.Storage, e *keyEntry) (map[uint32]string, error) {
	return b.keys.MaterialIDs(ctx, s, e)
}

func (b *backend) versionMaterialID(ctx context.Context, s logical.Storage, e *keyEntry, v uint32) (string, error) {
	return b.keys.VersionMaterialID(ctx, s, e, v)
}

func (b *backend) currentMaterialID(ctx context.Context, s logical.Storage, e *keyEntry) (string, error) {
	return b.keys.CurrentMaterialID(ctx, s, e)
}

func putExpiryIndex(ctx context.Context, s logical.Storage, e *keyEntry) error {
	return keystore.PutExpiryIndex(ctx, s, e)
}

// blobMaterialID is the id of the material a symmetric ciphertext blob was
// encrypted under ("" for other algorithms, as in AWS's responses).
func (b *backend) blobMaterialID(ctx context.Context, s logical.Storage, e *keyEntry, alg string, raw []byte) (string, error) {
	if alg != keyspec.AlgSymmetricDefault {
		return "", nil
	}
	blob, err := ciphertext.Parse(raw)
	if err != nil {
		return "", nil // a dry run that ignored the ciphertext
	}
	return b.versionMaterialID(ctx, s, e, blob.KeyVersion)
}

// withMaterialID adds a material id to a response under field, if known.
func withMaterialID(data map[string]any, field, id string, err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	if id != "" {
		data[field] = id
	}
	return data, nil
}
