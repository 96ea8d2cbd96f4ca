package kms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Key material states and import states, as AWS's ListKeyRotations names
// them.
const (
	materialCurrent         = "CURRENT"
	materialNonCurrent      = "NON_CURRENT"
	materialPendingRotation = "PENDING_ROTATION"
	importImported          = "IMPORTED"
	importPending           = "PENDING_IMPORT"

	importNewMaterial      = "NEW_KEY_MATERIAL"
	importExistingMaterial = "EXISTING_KEY_MATERIAL"

	includeAllMaterial   = "ALL_KEY_MATERIAL"
	includeRotationsOnly = "ROTATIONS_ONLY"

	// AWS's limit on KeyMaterialDescription.
	maxMaterialDescription = 256
)

// materialID names key material the way AWS does (64 hex characters,
// SHA-256 sized): an HMAC of the material under the mount's token key, so
// the id reveals nothing of the material, is the same each time the same
// material is imported into the same key, and cannot be computed outside
// the mount. It equals the MaterialFingerprint of keys stored before
// material ids existed.
func materialID(tokenKey []byte, keyID string, material []byte) string {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte("material:" + keyID + ":"))
	m.Write(material)
	return hex.EncodeToString(m.Sum(nil))
}

// migrateMaterial gives an EXTERNAL key stored before material ids its
// one material's id (the fingerprint): as version 1, deleted if the
// material was deleted then.
func migrateMaterial(e *keyEntry) {
	if e.Origin != originExternal || e.MaterialFingerprint == "" {
		return
	}
	if len(e.Versions) == 0 {
		e.Versions = []keyVersion{{Version: 1, MaterialID: e.MaterialFingerprint}}
		e.CurrentVersion = 1
		return
	}
	if len(e.Versions) == 1 && e.Versions[0].MaterialID == "" {
		v := &e.Versions[0]
		v.MaterialID, v.ExpirationModel, v.ValidTo = e.MaterialFingerprint, e.ExpirationModel, e.ValidTo
		e.CurrentVersion = v.Version
	}
}

// findVersion returns a pointer into e.Versions (of a clone, when
// modifying).
func (e *keyEntry) findVersion(v uint32) *keyVersion {
	for i := range e.Versions {
		if e.Versions[i].Version == v {
			return &e.Versions[i]
		}
	}
	return nil
}

// versionByMaterialID finds the version holding (or having held) the
// material with this id; released material is no longer the key's.
func (e *keyEntry) versionByMaterialID(id string) *keyVersion {
	for i := range e.Versions {
		if e.Versions[i].MaterialID == id && !e.Versions[i].Released {
			return &e.Versions[i]
		}
	}
	return nil
}

// materialIDs returns the id of each version's material: stored for
// imported material, derived for AWS_KMS material.
func (b *backend) materialIDs(ctx context.Context, s logical.Storage, e *keyEntry) (map[uint32]string, error) {
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]string, len(e.Versions))
	for _, v := range e.Versions {
		switch {
		case v.MaterialID != "":
			out[v.Version] = v.MaterialID
		case len(v.Material) > 0:
			out[v.Version] = materialID(key, e.KeyID, v.Material)
		}
	}
	return out, nil
}

// versionMaterialID is the material id of one version, "" if unknown.
func (b *backend) versionMaterialID(ctx context.Context, s logical.Storage, e *keyEntry, v uint32) (string, error) {
	kv := e.findVersion(v)
	if kv == nil {
		return "", nil
	}
	if kv.MaterialID != "" || len(kv.Material) == 0 {
		return kv.MaterialID, nil
	}
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return "", err
	}
	return materialID(key, e.KeyID, kv.Material), nil
}

// currentMaterialID is the id of the material that encrypts; only
// symmetric encryption keys have one (as in AWS's key metadata).
func (b *backend) currentMaterialID(ctx context.Context, s logical.Storage, e *keyEntry) (string, error) {
	if e.spec.Family != keyspec.FamilySymmetric {
		return "", nil
	}
	v, _ := e.latest()
	return b.versionMaterialID(ctx, s, e, v)
}

// hasCurrentMaterial reports whether the key can be used: its current
// material is there (imported material may have been deleted).
func (e *keyEntry) hasCurrentMaterial() bool {
	_, k := e.latest()
	return k != nil
}

// versionAt is version, except that imported material past its valid_to
// is gone from that moment, not only once the periodic sweep deletes it
// (the current material's expiry is checked with the key's state).
func (e *keyEntry) versionAt(v uint32, now time.Time) (*keyspec.Key, bool) {
	if kv := e.findVersion(v); kv != nil && kv.ExpirationModel == expirationExpires && !now.Before(kv.ValidTo) {
		return nil, false
	}
	return e.version(v)
}

// materialState is a version's KeyMaterialState.
func (e *keyEntry) materialState(v uint32) string {
	cur, _ := e.latest()
	switch {
	case v == cur:
		return materialCurrent
	case v > cur:
		return materialPendingRotation
	}
	return materialNonCurrent
}

// syncCurrentExpiry mirrors the current material's expiry on the key,
// where DescribeKey and the key-state checks read it.
func (e *keyEntry) syncCurrentExpiry() {
	cur, _ := e.latest()
	if kv := e.findVersion(cur); kv != nil && len(kv.Material) > 0 {
		e.ExpirationModel, e.ValidTo = kv.ExpirationModel, kv.ValidTo
		return
	}
	e.ExpirationModel, e.ValidTo = "", time.Time{}
}

// nextExpiry is the earliest valid_to of the key's imported material that
// is still there; zero if none expires.
func (e *keyEntry) nextExpiry() time.Time {
	var t time.Time
	for _, v := range e.Versions {
		if len(v.Material) > 0 && v.ExpirationModel == expirationExpires && (t.IsZero() || v.ValidTo.Before(t)) {
			t = v.ValidTo
		}
	}
	return t
}

// deleteMaterial deletes one imported material (keeping its id, so only
// the same material can come back). Deleting the current material makes
// the key wait for an import; deleting material pending rotation releases
// it from the key.
func (e *keyEntry) deleteMaterial(kv *keyVersion) {
	kv.Material, kv.ExpirationModel, kv.ValidTo = nil, "", time.Time{}
	delete(e.parsed, kv.Version)
	cur, _ := e.latest()
	if cur == kv.Version && e.State != statePendingDeletion {
		e.State = statePendingImport
	}
	if kv.Version > cur {
		kv.Released = true
	}
	e.syncCurrentExpiry()
}

// putExpiryIndex records when the key's next imported material expires.
func putExpiryIndex(ctx context.Context, s logical.Storage, e *keyEntry) error {
	t := e.nextExpiry()
	if t.IsZero() {
		return s.Delete(ctx, expiryStoragePrefix+e.KeyID)
	}
	entry, err := logical.StorageEntryJSON(expiryStoragePrefix+e.KeyID, &expiryEntry{KeyID: e.KeyID, ValidTo: t})
	if err != nil {
		return err
	}
	return s.Put(ctx, entry)
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

// checkAppendOnly compares a key about to be written with the stored one.
// Its errors name versions, never material. Imported material is the one
// exception: a version of an EXTERNAL key may lose its material
// (DeleteImportedKeyMaterial) and get it back, but only the material its
// id names (idOf), so every other version's ciphertext stays decryptable.
func checkAppendOnly(stored, next *keyEntry, idOf func([]byte) string) error {
	external := stored.Origin == originExternal
	if len(next.Versions) == 0 && external {
		return nil // all imported material deleted (as stored before material ids)
	}
	byVersion := make(map[uint32]keyVersion, len(next.Versions))
	for _, v := range next.Versions {
		byVersion[v.Version] = v
	}
	for _, v := range stored.Versions {
		n, ok := byVersion[v.Version]
		switch {
		case !ok:
			return fmt.Errorf("key %s: the write would drop key material version %d", stored.KeyID, v.Version)
		case v.MaterialID != "" && n.MaterialID != v.MaterialID:
			return fmt.Errorf("key %s: the write would rename key material version %d", stored.KeyID, v.Version)
		case len(v.Material) > 0 && len(n.Material) > 0:
			if !bytes.Equal(n.Material, v.Material) {
				return fmt.Errorf("key %s: the write would replace key material version %d", stored.KeyID, v.Version)
			}
		case len(v.Material) > 0: // deleted
			if !external || n.MaterialID == "" || n.MaterialID != idOf(v.Material) {
				return fmt.Errorf("key %s: the write would drop key material version %d", stored.KeyID, v.Version)
			}
		case len(n.Material) > 0: // imported again
			if !external || v.Released || n.MaterialID == "" || n.MaterialID != idOf(n.Material) {
				return fmt.Errorf("key %s: the write would replace deleted key material version %d", stored.KeyID, v.Version)
			}
		}
	}
	return nil
}
