package kms

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Storage layout. key/ is seal-wrapped (see PathsSpecial in backend.go).
const (
	keyStoragePrefix      = "key/"      // key/<key id>: keyEntry
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
	// For origin EXTERNAL: a MAC identifying the imported material (so
	// only the same material can come back), and its expiry.
	MaterialFingerprint string    `json:"material_fingerprint,omitempty"`
	ExpirationModel     string    `json:"expiration_model,omitempty"`
	ValidTo             time.Time `json:"valid_to,omitzero"`

	spec   *keyspec.Spec
	parsed map[uint32]*keyspec.Key
	policy *keyPolicy
}

var defaultPolicy = func() *keyPolicy {
	p, err := parsePolicy(defaultPolicyJSON)
	if err != nil {
		panic(err)
	}
	return p
}()

// keyPolicy returns the key's parsed policy.
func (e *keyEntry) keyPolicy() *keyPolicy {
	if e.policy == nil {
		return defaultPolicy
	}
	return e.policy
}

// setPolicy stores a validated policy document and its parsed form.
func (e *keyEntry) setPolicy(doc string, p *keyPolicy) {
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

// latest returns the newest material version and its parsed key.
func (e *keyEntry) latest() (uint32, *keyspec.Key) {
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
func (e *keyEntry) parse() error {
	spec, ok := keyspec.Lookup(e.KeySpec)
	if !ok {
		return fmt.Errorf("stored key %s has unknown key spec %q", e.KeyID, e.KeySpec)
	}
	e.spec = spec
	if e.Policy != "" {
		p, err := parsePolicy(e.Policy)
		if err != nil {
			return fmt.Errorf("stored key %s has an invalid policy: %w", e.KeyID, err)
		}
		e.policy = p
	}
	e.parsed = make(map[uint32]*keyspec.Key, len(e.Versions))
	for _, v := range e.Versions {
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

// cache holds parsed keys and the whole alias table. Entries are dropped by
// Invalidate when another node writes, and replaced by this node's writes.
type cache struct {
	keys     sync.Map // key id -> *keyEntry
	grants   sync.Map // key id -> *grantIndex
	tokenKey atomic.Pointer[[]byte]

	mu      sync.RWMutex
	aliases map[string]*aliasEntry // nil until loaded
}

func newCache() *cache { return &cache{} }

func (c *cache) dropKey(id string) { c.keys.Delete(id) }

func (c *cache) dropAliases() {
	c.mu.Lock()
	c.aliases = nil
	c.mu.Unlock()
}

func (c *cache) reset() {
	c.keys.Clear()
	c.grants.Clear()
	c.tokenKey.Store(nil)
	c.dropAliases()
}

// getKey reads a key by id, from the cache when it can. It returns nil for
// a key that does not exist.
func (b *backend) getKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	if v, ok := b.cache.keys.Load(id); ok {
		return v.(*keyEntry), nil
	}
	raw, err := s.Get(ctx, keyStoragePrefix+id)
	if err != nil || raw == nil {
		return nil, err
	}
	e := &keyEntry{}
	if err := raw.DecodeJSON(e); err != nil {
		return nil, err
	}
	if err := e.parse(); err != nil {
		return nil, err
	}
	b.cache.keys.Store(id, e)
	return e, nil
}

// putKey writes a key; the caller holds the key's lock.
func (b *backend) putKey(ctx context.Context, s logical.Storage, e *keyEntry) error {
	entry, err := logical.StorageEntryJSON(keyStoragePrefix+e.KeyID, e)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	b.cache.keys.Store(e.KeyID, e)
	return nil
}

func (b *backend) lockKey(id string) func() {
	l := locksutil.LockForKey(b.keyLocks, id)
	l.Lock()
	return l.Unlock
}

func aliasStorageKey(name string) string {
	return aliasStoragePrefix + url.PathEscape(name)
}

// aliases returns the alias table, loading it on first use.
func (b *backend) aliases(ctx context.Context, s logical.Storage) (map[string]*aliasEntry, error) {
	b.cache.mu.RLock()
	m := b.cache.aliases
	b.cache.mu.RUnlock()
	if m != nil {
		return m, nil
	}
	names, err := s.List(ctx, aliasStoragePrefix)
	if err != nil {
		return nil, err
	}
	m = make(map[string]*aliasEntry, len(names))
	for _, n := range names {
		raw, err := s.Get(ctx, aliasStoragePrefix+n)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		a := &aliasEntry{}
		if err := raw.DecodeJSON(a); err != nil {
			return nil, err
		}
		m[a.Name] = a
	}
	b.cache.mu.Lock()
	b.cache.aliases = m
	b.cache.mu.Unlock()
	return m, nil
}

// putAlias and deleteAlias are called with aliasLock held; they replace the
// cached table rather than edit it, since readers hold the old map unlocked.
func (b *backend) putAlias(ctx context.Context, s logical.Storage, a *aliasEntry) error {
	entry, err := logical.StorageEntryJSON(aliasStorageKey(a.Name), a)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	return b.editAliases(ctx, s, func(m map[string]*aliasEntry) { m[a.Name] = a })
}

func (b *backend) deleteAlias(ctx context.Context, s logical.Storage, name string) error {
	if err := s.Delete(ctx, aliasStorageKey(name)); err != nil {
		return err
	}
	return b.editAliases(ctx, s, func(m map[string]*aliasEntry) { delete(m, name) })
}

func (b *backend) editAliases(ctx context.Context, s logical.Storage, edit func(map[string]*aliasEntry)) error {
	cur, err := b.aliases(ctx, s)
	if err != nil {
		return err
	}
	next := make(map[string]*aliasEntry, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	edit(next)
	b.cache.mu.Lock()
	b.cache.aliases = next
	b.cache.mu.Unlock()
	return nil
}

// aliasesOf lists the alias names that target a key, sorted.
func aliasesOf(m map[string]*aliasEntry, keyID string) []string {
	var out []string
	for name, a := range m {
		if a.TargetKeyID == keyID {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// isDeleted reports whether a pending deletion has come due. Such a key is
// gone for every caller, even before the periodic sweep removes it.
func (b *backend) isDeleted(e *keyEntry) bool {
	return e.State == statePendingDeletion && !b.now().Before(e.DeletionDate)
}

// deleteDueKeys destroys the keys whose deletion window has ended, with
// their aliases. It reads only the small index of keys pending deletion.
func (b *backend) deleteDueKeys(ctx context.Context, s logical.Storage) error {
	ids, err := s.List(ctx, deletionStoragePrefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := b.deleteIfDue(ctx, s, id); err != nil {
			return err
		}
	}
	return nil
}

func (b *backend) deleteIfDue(ctx context.Context, s logical.Storage, id string) error {
	unlock := b.lockKey(id)
	defer unlock()
	e, err := b.getKey(ctx, s, id)
	if err != nil {
		return err
	}
	if e != nil && !b.isDeleted(e) {
		return nil
	}
	b.aliasLock.Lock()
	defer b.aliasLock.Unlock()
	m, err := b.aliases(ctx, s)
	if err != nil {
		return err
	}
	for _, name := range aliasesOf(m, id) {
		if err := b.deleteAlias(ctx, s, name); err != nil {
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
	if err := s.Delete(ctx, keyStoragePrefix+id); err != nil {
		return err
	}
	b.cache.dropKey(id)
	b.Logger().Info("deleted key at the end of its deletion window", "key_id", id)
	return s.Delete(ctx, deletionStoragePrefix+id)
}

// resolveKey turns a key reference (key id, key ARN, alias name or alias
// ARN) into the key. allowAlias is false for the operations AWS refuses on
// aliases (EnableKey, TagResource, ...).
func (b *backend) resolveKey(ctx context.Context, s logical.Storage, ref string, allowAlias bool) (*keyEntry, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errValidation("a key id is required")
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
			return nil, errValidation("this operation does not accept an alias (%s); use the key id or key ARN", alias)
		}
		m, err := b.aliases(ctx, s)
		if err != nil {
			return nil, err
		}
		a, ok := m[alias]
		if !ok {
			return nil, errNotFound("alias %s does not exist", alias)
		}
		id = a.TargetKeyID
	}
	e, err := b.getKey(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if e == nil || b.isDeleted(e) {
		return nil, errNotFound("key '%s' does not exist", id)
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
			return "", "", newErr(excNotFound, "invalid key ARN %q", ref)
		}
		if !strings.HasPrefix(ref, string(a)) {
			return "", "", newErr(excNotFound, "ARN %q is not of this mount, whose ARNs start with %s", ref, a)
		}
		ref = parts[5]
		switch {
		case strings.HasPrefix(ref, "key/"):
			return strings.TrimPrefix(ref, "key/"), "", nil
		case strings.HasPrefix(ref, "alias/"):
			return "", ref, nil
		}
		return "", "", newErr(excNotFound, "invalid key ARN resource %q", ref)
	}
	if strings.HasPrefix(ref, "alias/") {
		return "", ref, nil
	}
	return ref, "", nil
}
