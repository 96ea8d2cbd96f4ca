package keystore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Key material states, as AWS's ListKeyRotations names them, and the
// expiration models of imported material.
const (
	MaterialCurrent         = "CURRENT"
	MaterialNonCurrent      = "NON_CURRENT"
	MaterialPendingRotation = "PENDING_ROTATION"

	ExpirationExpires       = "KEY_MATERIAL_EXPIRES"
	ExpirationDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
)

// MaterialID names key material the way AWS does (64 hex characters,
// SHA-256 sized): an HMAC of the material under the mount's token key, so
// the id reveals nothing of the material, is the same each time the same
// material is imported into the same key, and cannot be computed outside
// the mount.
func MaterialID(tokenKey []byte, keyID string, material []byte) string {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte("material:" + keyID + ":"))
	m.Write(material)
	return hex.EncodeToString(m.Sum(nil))
}

// FindVersion returns a pointer into k.Versions (of a clone, when
// modifying).
func (k *Key) FindVersion(v uint32) *Version {
	for i := range k.Versions {
		if k.Versions[i].Version == v {
			return &k.Versions[i]
		}
	}
	return nil
}

// VersionByMaterialID finds the version holding (or having held) the
// material with this id; released material is no longer the key's.
func (k *Key) VersionByMaterialID(id string) *Version {
	for i := range k.Versions {
		if k.Versions[i].MaterialID == id && !k.Versions[i].Released {
			return &k.Versions[i]
		}
	}
	return nil
}

// MaterialIDs returns the id of each version's material: stored for
// imported material, derived for AWS_KMS material.
func (st *Store) MaterialIDs(ctx context.Context, s logical.Storage, k *Key) (map[uint32]string, error) {
	key, err := st.deps.TokenKey(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]string, len(k.Versions))
	for _, v := range k.Versions {
		switch {
		case v.MaterialID != "":
			out[v.Version] = v.MaterialID
		case len(v.Material) > 0:
			out[v.Version] = MaterialID(key, k.KeyID, v.Material)
		}
	}
	return out, nil
}

// VersionMaterialID is the material id of one version, "" if unknown.
func (st *Store) VersionMaterialID(ctx context.Context, s logical.Storage, k *Key, v uint32) (string, error) {
	kv := k.FindVersion(v)
	if kv == nil {
		return "", nil
	}
	if kv.MaterialID != "" || len(kv.Material) == 0 {
		return kv.MaterialID, nil
	}
	key, err := st.deps.TokenKey(ctx, s)
	if err != nil {
		return "", err
	}
	return MaterialID(key, k.KeyID, kv.Material), nil
}

// CurrentMaterialID is the id of the material that encrypts; only
// symmetric encryption keys have one (as in AWS's key metadata).
func (st *Store) CurrentMaterialID(ctx context.Context, s logical.Storage, k *Key) (string, error) {
	if k.spec.Family != keyspec.FamilySymmetric {
		return "", nil
	}
	v, _ := k.Latest()
	return st.VersionMaterialID(ctx, s, k, v)
}

// HasCurrentMaterial reports whether the key can be used: its current
// material is there (imported material may have been deleted).
func (k *Key) HasCurrentMaterial() bool {
	v, p := k.Latest()
	return p != nil || k.HSMLabel(v) != ""
}

// VersionAt is ParsedVersion, except that imported material past its
// valid_to is gone from that moment, not only once the periodic sweep
// deletes it (the current material's expiry is checked with the key's
// state).
func (k *Key) VersionAt(v uint32, now time.Time) (*keyspec.Key, bool) {
	if kv := k.FindVersion(v); kv != nil && kv.ExpirationModel == ExpirationExpires && !now.Before(kv.ValidTo) {
		return nil, false
	}
	return k.ParsedVersion(v)
}

// MaterialState is a version's KeyMaterialState.
func (k *Key) MaterialState(v uint32) string {
	cur, _ := k.Latest()
	switch {
	case v == cur:
		return MaterialCurrent
	case v > cur:
		return MaterialPendingRotation
	}
	return MaterialNonCurrent
}

// SyncCurrentExpiry mirrors the current material's expiry on the key,
// where DescribeKey and the key-state checks read it.
func (k *Key) SyncCurrentExpiry() {
	cur, _ := k.Latest()
	if kv := k.FindVersion(cur); kv != nil && len(kv.Material) > 0 {
		k.ExpirationModel, k.ValidTo = kv.ExpirationModel, kv.ValidTo
		return
	}
	k.ExpirationModel, k.ValidTo = "", time.Time{}
}

// NextExpiry is the earliest valid_to of the key's imported material that
// is still there; zero if none expires.
func (k *Key) NextExpiry() time.Time {
	var t time.Time
	for _, v := range k.Versions {
		if len(v.Material) > 0 && v.ExpirationModel == ExpirationExpires && (t.IsZero() || v.ValidTo.Before(t)) {
			t = v.ValidTo
		}
	}
	return t
}

// DeleteMaterial deletes one imported material (keeping its id, so only
// the same material can come back). Deleting the current material makes
// the key wait for an import; deleting material pending rotation releases
// it from the key.
func (k *Key) DeleteMaterial(kv *Version) {
	kv.Material, kv.ExpirationModel, kv.ValidTo = nil, "", time.Time{}
	delete(k.parsed, kv.Version)
	cur, _ := k.Latest()
	if cur == kv.Version && k.State != StatePendingDeletion {
		k.State = StatePendingImport
	}
	if kv.Version > cur {
		kv.Released = true
	}
	k.SyncCurrentExpiry()
}

// ExpiryEntry is the expiry/ index entry of a key.
type ExpiryEntry struct {
	KeyID   string    `json:"key_id"`
	ValidTo time.Time `json:"valid_to"`
}

// PutExpiryIndex records when the key's next imported material expires.
func PutExpiryIndex(ctx context.Context, s logical.Storage, k *Key) error {
	t := k.NextExpiry()
	if t.IsZero() {
		return s.Delete(ctx, ExpiryPrefix+k.KeyID)
	}
	entry, err := logical.StorageEntryJSON(ExpiryPrefix+k.KeyID, &ExpiryEntry{KeyID: k.KeyID, ValidTo: t})
	if err != nil {
		return err
	}
	return s.Put(ctx, entry)
}

// ExpireImportedMaterial deletes imported material past its valid_to. It
// reads only the index of keys whose material expires.
func (st *Store) ExpireImportedMaterial(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, ExpiryPrefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := st.expireIfDue(ctx, s, id); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) expireIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := st.Lock(id)
	defer unlock()
	e, err := st.Load(ctx, s, id)
	if err != nil {
		return err
	}
	if e == nil {
		return s.Delete(ctx, ExpiryPrefix+id)
	}
	due := e.NextExpiry()
	if due.IsZero() || st.now().Before(due) {
		// Nothing expires, or not yet: make the index agree with the key.
		return PutExpiryIndex(ctx, s, e)
	}
	c := e.Clone()
	var expired []string
	for i := range c.Versions {
		kv := &c.Versions[i]
		if len(kv.Material) > 0 && kv.ExpirationModel == ExpirationExpires && !st.now().Before(kv.ValidTo) {
			expired = append(expired, kv.MaterialID)
			c.DeleteMaterial(kv)
		}
	}
	if err := st.Put(ctx, s, c); err != nil {
		return err
	}
	st.logger().Info("imported key material expired and was deleted", "key_id", id, "key_material_ids", expired)
	return PutExpiryIndex(ctx, s, c)
}

// CheckAppendOnly compares a key about to be written with the stored one.
// Its errors name versions, never material. Imported material is the one
// exception: a version of an EXTERNAL key may lose its material
// (DeleteImportedKeyMaterial) and get it back, but only the material its
// id names (idOf), so every other version's ciphertext stays decryptable.
func CheckAppendOnly(stored, next *Key, idOf func([]byte) string) error {
	external := stored.Origin == OriginExternal
	byVersion := make(map[uint32]Version, len(next.Versions))
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
