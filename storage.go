package kms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Storage layout. key/ is seal-wrapped (see PathsSpecial in backend.go).
const (
	keyStoragePrefix      = "key/"      // key/<key id>: keyEntry
	creatingStoragePrefix = "creating/" // creating/<key id>: index of unfinished CreateKeys
	aliasStoragePrefix    = "alias/"    // alias/<escaped name>: aliasEntry
	deletionStoragePrefix = "deletion/" // deletion/<key id>: index of keys pending deletion
)

// Key states, as AWS names them.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
	statePendingImport   = "PendingImport"
)

const (
	originAWSKMS   = "AWS_KMS"
	originExternal = "EXTERNAL"
)

// keyVersion is one version of a key's material. Rotation appends versions;
// the ciphertext blob names the version that encrypted it.
type keyVersion struct {
	Version   uint32    `json:"version"`
	Material  []byte    `json:"material"`
	CreatedAt time.Time `json:"created_at"`
	// RotationType is AUTOMATIC or ON_DEMAND for versions made by rotation.
	RotationType string `json:"rotation_type,omitempty"`

	// Imported material (origin EXTERNAL) only. MaterialID names the
	// material (see materialID) and stays when the material is deleted
	// (Material empty), so only the same material can come back.
	MaterialID          string    `json:"material_id,omitempty"`
	MaterialDescription string    `json:"material_description,omitempty"`
	ExpirationModel     string    `json:"expiration_model,omitempty"`
	ValidTo             time.Time `json:"valid_to,omitzero"`
	// RotatedAt is when imported material became current by rotation (an
	// AWS_KMS version is current from its creation).
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// Released marks imported material deleted while PENDING_ROTATION: it
	// never encrypted, so AWS no longer associates it with the key (it may
	// come back only as new material, in a new version).
	Released bool `json:"released,omitempty"`
}

// keyEntry is a key as stored. A cached *keyEntry is shared between
// requests and must never be modified: writers change a clone().
type keyEntry struct {
	KeyID             string            `json:"key_id"`
	Description       string            `json:"description"`
	KeySpec           string            `json:"key_spec"`
	KeyUsage          keyspec.KeyUsage  `json:"key_usage"`
	Origin            string            `json:"origin"`
	State             string            `json:"state"`
	CreationDate      time.Time         `json:"creation_date"`
	DeletionDate      time.Time         `json:"deletion_date,omitzero"`
	PendingWindowDays int               `json:"pending_window_days,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	Versions          []keyVersion      `json:"versions"`
	// Policy is the key policy document; empty means the default policy.
	Policy string `json:"policy,omitempty"`
	// RotationPeriodDays is 0 when automatic rotation is off.
	RotationPeriodDays int       `json:"rotation_period_days,omitempty"`
	NextRotation       time.Time `json:"next_rotation,omitzero"`
	// For origin EXTERNAL: the first material's id (kept for keys stored
	// before versions had MaterialID), and the current material's expiry.
	MaterialFingerprint string    `json:"material_fingerprint,omitempty"`
	ExpirationModel     string    `json:"expiration_model,omitempty"`
	ValidTo             time.Time `json:"valid_to,omitzero"`
	// CurrentVersion is the version that encrypts; 0 means the newest.
	// Imported material waits as a newer version (PENDING_ROTATION) until
	// an on-demand rotation makes it current.
	CurrentVersion uint32 `json:"current_version,omitempty"`
	// Creating marks a key whose CreateKey (with an alias) has not
	// finished: such a key is invisible, and removed by the sweep.
	Creating bool `json:"creating,omitempty"`

	spec   *keyspec.Spec
	parsed map[uint32]*keyspec.Key
	policy *awspolicy.Policy
}

// keyPolicy returns the key's parsed policy; nil means the default policy
// (access.DefaultPolicy of the mount's account).
func (e *keyEntry) keyPolicy() *awspolicy.Policy {
	return e.policy
}

// setPolicy stores a validated policy document and its parsed form.
func (e *keyEntry) setPolicy(doc string, p *awspolicy.Policy) {
	e.Policy, e.policy = doc, p
}

func (e *keyEntry) clone() *keyEntry {
	c := *e
	c.Tags = make(map[string]string, len(e.Tags))
	for k, v := range e.Tags {
		c.Tags[k] = v
	}
	c.Versions = append([]keyVersion(nil), e.Versions...)
	c.parsed = make(map[uint32]*keyspec.Key, len(e.parsed))
	for v, k := range e.parsed {
		c.parsed[v] = k
	}
	return &c
}

// latest returns the current material version (the one that encrypts)
// and its parsed key: the newest, unless CurrentVersion names another.
func (e *keyEntry) latest() (uint32, *keyspec.Key) {
	if e.CurrentVersion != 0 {
		return e.CurrentVersion, e.parsed[e.CurrentVersion]
	}
	if len(e.Versions) == 0 {
		return 0, nil
	}
	v := e.Versions[len(e.Versions)-1].Version
	return v, e.parsed[v]
}

// version returns the parsed key of one material version.
func (e *keyEntry) version(v uint32) (*keyspec.Key, bool) {
	k, ok := e.parsed[v]
	return k, ok
}

// versionMaterial returns the stored material of one version.
func (e *keyEntry) versionMaterial(v uint32) ([]byte, bool) {
	for _, kv := range e.Versions {
		if kv.Version == v {
			_, parsed := e.parsed[v]
			return kv.Material, parsed
		}
	}
	return nil, false
}

// onDemandRotations counts the key's on-demand rotations.
func (e *keyEntry) onDemandRotations() int {
	n := 0
	for _, v := range e.Versions {
		if v.RotationType == rotationOnDemand {
			n++
		}
	}
	return n
}

// addVersion appends new key material.
func (e *keyEntry) addVersion(k *keyspec.Key, at time.Time) error {
	raw, err := k.Marshal()
	if err != nil {
		return err
	}
	var next uint32 = 1
	if n := len(e.Versions); n > 0 {
		next = e.Versions[n-1].Version + 1
	}
	e.Versions = append(e.Versions, keyVersion{Version: next, Material: raw, CreatedAt: at})
	if e.parsed == nil {
		e.parsed = map[uint32]*keyspec.Key{}
	}
	e.parsed[next] = k
	return nil
}

// parse fills the derived fields after a storage read. Parsing an RSA key
// is costly, which is why parsed entries are cached.
func (e *keyEntry) parse(prev *keyEntry) error {
	spec, ok := keyspec.Lookup(e.KeySpec)
	if !ok {
		return fmt.Errorf("stored key %s has unknown key spec %q", e.KeyID, e.KeySpec)
	}
	e.spec = spec
	if prev != nil && prev.Policy == e.Policy {
		e.policy = prev.policy
	} else if e.Policy != "" {
		// A document the parser refuses (the pre-release {"statements"}
		// format, or one stored before the parser came to refuse something
		// it holds) has no one meaning: it is enforced as "deny everything"
		// rather than guessed at, and the key still loads, so that the sudo
		// recovery path can replace it.
		e.policy, _ = access.ParseStoredPolicy(e.Policy)
	}
	migrateMaterial(e)
	e.parsed = make(map[uint32]*keyspec.Key, len(e.Versions))
	for _, v := range e.Versions {
		if len(v.Material) == 0 {
			continue // deleted imported material
		}
		if prev != nil && prev.KeySpec == e.KeySpec {
			if pv, ok := prev.versionMaterial(v.Version); ok && bytes.Equal(pv, v.Material) {
				e.parsed[v.Version] = prev.parsed[v.Version]
				continue
			}
		}
		k, err := spec.Parse(v.Material)
		if err != nil {
			return fmt.Errorf("stored key %s version %d: %w", e.KeyID, v.Version, err)
		}
		e.parsed[v.Version] = k
	}
	return nil
}

type aliasEntry struct {
	Name        string    `json:"name"`
	TargetKeyID string    `json:"target_key_id"`
	CreatedAt   time.Time `json:"creation_date"`
	UpdatedAt   time.Time `json:"last_updated_date"`
}

type deletionEntry struct {
	KeyID        string    `json:"key_id"`
	DeletionDate time.Time `json:"deletion_date"`
}

// readKey reads and parses a key from storage, bypassing the cache; nil
// for a key that does not exist. Versions whose material equals prev's
// reuse prev's parsed keys, since parsing an RSA key is costly.
func readKey(ctx context.Context, s logical.Storage, id string, prev *keyEntry) (*keyEntry, error) {
	raw, err := s.Get(ctx, keyStoragePrefix+id)
	if err != nil || raw == nil {
		return nil, err
	}
	e := &keyEntry{}
	if err := raw.DecodeJSON(e); err != nil {
		return nil, err
	}
	if err := e.parse(prev); err != nil {
		return nil, err
	}
	return e, nil
}

// getKey reads a key by id, from the cache when it can. It returns nil for
// a key that does not exist. The fill is dropped if the key was written or
// invalidated while storage was being read.
func (b *backend) getKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	if e, ok := b.cache.keys.get(id); ok {
		return e, nil
	}
	t := b.cache.keys.ticket()
	e, err := readKey(ctx, s, id, nil)
	if err != nil || e == nil {
		return nil, err
	}
	b.cache.keys.fill(id, t, e)
	return e, nil
}

// loadKey reads a key from storage, never from the cache: every
// read-modify-write starts here, under the key's lock.
func (b *backend) loadKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	prev, _ := b.cache.keys.get(id)
	t := b.cache.keys.ticket()
	e, err := readKey(ctx, s, id, prev)
	if err != nil || e == nil {
		return nil, err
	}
	b.cache.keys.fill(id, t, e)
	return e, nil
}

// putKey writes a key; the caller holds the key's lock. Key material
// versions are append-only: putKey reads the stored entry and refuses a
// write that would change or drop the material of a stored version (only
// DeleteImportedKeyMaterial and expiry drop imported material, all of it).
func (b *backend) putKey(ctx context.Context, s logical.Storage, e *keyEntry) error {
	raw, err := s.Get(ctx, keyStoragePrefix+e.KeyID)
	if err != nil {
		return err
	}
	if raw != nil {
		var stored keyEntry
		if err := raw.DecodeJSON(&stored); err != nil {
			return err
		}
		key, err := b.tokenKey(ctx, s)
		if err != nil {
			return err
		}
		if err := checkAppendOnly(&stored, e, func(m []byte) string { return materialID(key, e.KeyID, m) }); err != nil {
			b.Logger().Error("refused a key write that would replace key material", "key_id", e.KeyID, "error", err)
			return err
		}
	}
	entry, err := logical.StorageEntryJSON(keyStoragePrefix+e.KeyID, e)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	b.cache.keys.put(e.KeyID, e)
	return nil
}

func (b *backend) lockKey(id string) func() {
	l := locksutil.LockForKey(b.keyLocks, id)
	l.Lock()
	return l.Unlock
}

// isDeleted reports whether a key is gone for every caller: its pending
// deletion has come due (even before the periodic sweep removes it), or its
// creation never finished (see pathKeyCreate).
func (b *backend) isDeleted(e *keyEntry) bool {
	return e.Creating || e.State == statePendingDeletion && !b.now().Before(e.DeletionDate)
}

// deleteDueKeys destroys the keys whose deletion window has ended, with
// their aliases. It reads only the small index of keys pending deletion.
func (b *backend) deleteDueKeys(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, deletionStoragePrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, b.deleteIfDue(ctx, s, id))
	}
	return errors.Join(errs...)
}

func (b *backend) deleteIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := b.lockKey(id)
	defer unlock()
	e, err := b.loadKey(ctx, s, id)
	if err != nil {
		return err
	}
	if e != nil && !b.isDeleted(e) {
		return nil
	}
	return b.destroyKey(ctx, s, id, "deleted key at the end of its deletion window")
}

// destroyKey removes a key with its aliases, grants and index entries; the
// caller holds the key's lock. The key entry goes last but one, so a failure
// at any step leaves a key that is still invisible (past its deletion date,
// or never finished) and that the next sweep removes; the index entry that
// leads the sweep to it goes last.
func (b *backend) destroyKey(ctx context.Context, s logical.Storage, id, why string) error {
	b.aliasLock.Lock()
	defer b.aliasLock.Unlock()
	// The key's aliases, from storage: each index entry's alias is deleted
	// if it still points here, and the entry itself in any case.
	indexed, err := s.List(ctx, aliasIndexPrefix+id+"/")
	if err != nil {
		return err
	}
	for _, n := range indexed {
		name, err := url.PathUnescape(n)
		if err != nil {
			return err
		}
		a, err := readAlias(ctx, s, name)
		if err != nil {
			return err
		}
		if a != nil && a.TargetKeyID == id {
			err = b.deleteAlias(ctx, s, a)
		} else {
			err = s.Delete(ctx, aliasIndexPrefix+id+"/"+n)
		}
		if err != nil {
			return err
		}
	}
	if err := b.deleteAllGrants(ctx, s, id); err != nil {
		return err
	}
	for _, index := range []string{rotationStoragePrefix, importStoragePrefix, expiryStoragePrefix, usageStoragePrefix} {
		if err := s.Delete(ctx, index+id); err != nil {
			return err
		}
	}
	b.cache.keyAlias.invalidate(id)
	if err := s.Delete(ctx, keyStoragePrefix+id); err != nil {
		b.cache.keys.invalidate(id)
		return err
	}
	b.cache.keys.invalidate(id)
	b.Logger().Info(why, "key_id", id)
	if err := s.Delete(ctx, creatingStoragePrefix+id); err != nil {
		return err
	}
	return s.Delete(ctx, deletionStoragePrefix+id)
}

// resolveKey turns a key reference (key id, key ARN, alias name or alias
// ARN) into the key. allowAlias is false for the operations AWS refuses on
// aliases (EnableKey, TagResource, ...).
func (b *backend) resolveKey(ctx context.Context, s logical.Storage, ref string, allowAlias bool) (*keyEntry, error) {
	if ref == "" {
		return nil, kmserr.Validationf("a key id is required")
	}
	if err := checkRefSpacing(ref); err != nil {
		return nil, err
	}
	arns, err := b.arns(ctx, s)
	if err != nil {
		return nil, err
	}
	id, alias, err := arns.parse(ref)
	if err == nil {
		err = checkKeyRef(id, alias)
	}
	if err != nil {
		return nil, err
	}
	if alias != "" {
		if !allowAlias {
			return nil, kmserr.Validationf("this operation does not accept an alias (%s); use the key id or key ARN", alias)
		}
		a, err := b.getAlias(ctx, s, alias)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, kmserr.NotFoundf("alias %s does not exist", alias)
		}
		id = a.TargetKeyID
	}
	e, err := b.getKey(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if e == nil || b.isDeleted(e) {
		return nil, kmserr.NotFoundf("key '%s' does not exist", id)
	}
	return e, nil
}

// parse splits a reference into a key id or an alias name. An ARN of
// another partition, region or account names no key of this mount.
func (a arnScheme) parse(ref string) (id, alias string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		// arn:<partition>:kms:<region>:<account>:<resource>
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN %q", ref)
		}
		if !strings.HasPrefix(ref, string(a)) {
			return "", "", kmserr.New(kmserr.NotFound, "ARN %q is not of this mount, whose ARNs start with %s", ref, a)
		}
		ref = parts[5]
		switch {
		case strings.HasPrefix(ref, "key/"):
			return strings.TrimPrefix(ref, "key/"), "", nil
		case strings.HasPrefix(ref, "alias/"):
			return "", ref, nil
		}
		return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN resource %q", ref)
	}
	if strings.HasPrefix(ref, "alias/") {
		return "", ref, nil
	}
	return ref, "", nil
}
