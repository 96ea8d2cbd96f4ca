package keystore

import (
	"bytes"
	"fmt"
	"time"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Key origins.
const (
	OriginAWSKMS   = "AWS_KMS"
	OriginExternal = "EXTERNAL"
	// OriginCloudHSM is a key in a custom key store: its material is an
	// object in the store's token, never in storage.
	OriginCloudHSM = "AWS_CLOUDHSM"
)

// Rotation types of key material versions, as AWS's ListKeyRotations.
const (
	RotationAutomatic = "AUTOMATIC"
	RotationOnDemand  = "ON_DEMAND"
)

// Version is one version of a key's material. Rotation appends versions;
// the ciphertext blob names the version that encrypted it.
type Version struct {
	Version   uint32    `json:"version"`
	Material  []byte    `json:"material"`
	CreatedAt time.Time `json:"created_at"`
	// RotationType is AUTOMATIC or ON_DEMAND for versions made by rotation.
	RotationType string `json:"rotation_type,omitempty"`
	// HSMLabel is, for a key in a custom key store, the label of the
	// version's key object in the store's token; Material is then empty.
	HSMLabel string `json:"hsm_label,omitempty"`

	// Imported material (origin EXTERNAL) only. MaterialID names the
	// material (see MaterialID) and stays when the material is deleted
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

// Key is a key as stored. A cached *Key is shared between requests and
// must never be modified: writers change a Clone().
type Key struct {
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
	Versions          []Version         `json:"versions"`
	// Policy is the key policy document; empty means the default policy.
	Policy string `json:"policy,omitempty"`
	// RotationPeriodDays is 0 when automatic rotation is off.
	RotationPeriodDays int       `json:"rotation_period_days,omitempty"`
	NextRotation       time.Time `json:"next_rotation,omitzero"`
	// For origin EXTERNAL: the current material's expiry, mirrored from
	// its version (SyncCurrentExpiry).
	ExpirationModel string    `json:"expiration_model,omitempty"`
	ValidTo         time.Time `json:"valid_to,omitzero"`
	// CurrentVersion is the version that encrypts; 0 means the newest.
	// Imported material waits as a newer version (PENDING_ROTATION) until
	// an on-demand rotation makes it current.
	CurrentVersion uint32 `json:"current_version,omitempty"`
	// CustomKeyStoreID is the custom key store holding the key's material
	// (origin AWS_CLOUDHSM); empty for every other key.
	CustomKeyStoreID string `json:"custom_key_store_id,omitempty"`
	// Creating marks a key whose CreateKey (with an alias) has not
	// finished: such a key is invisible, and removed by the sweep.
	Creating bool `json:"creating,omitempty"`

	// ParsedPolicy is Policy parsed; nil means the default policy.
	ParsedPolicy *awspolicy.Policy `json:"-"`

	spec   *keyspec.Spec
	parsed map[uint32]*keyspec.Key
}

// KeyPolicy returns the key's parsed policy; nil means the default policy.
func (k *Key) KeyPolicy() *awspolicy.Policy { return k.ParsedPolicy }

// SetPolicy stores a validated policy document and its parsed form.
func (k *Key) SetPolicy(doc string, p *awspolicy.Policy) {
	k.Policy, k.ParsedPolicy = doc, p
}

// Spec is the key's parsed key spec (set by the store and by NewKey).
func (k *Key) Spec() *keyspec.Spec { return k.spec }

// SetSpec sets the parsed key spec of a key being made.
func (k *Key) SetSpec(s *keyspec.Spec) { k.spec = s }

// Clone returns a copy a writer may change.
func (k *Key) Clone() *Key {
	c := *k
	c.Tags = make(map[string]string, len(k.Tags))
	for n, v := range k.Tags {
		c.Tags[n] = v
	}
	c.Versions = append([]Version(nil), k.Versions...)
	c.parsed = make(map[uint32]*keyspec.Key, len(k.parsed))
	for v, p := range k.parsed {
		c.parsed[v] = p
	}
	return &c
}

// Latest returns the current material version (the one that encrypts)
// and its parsed key: the newest, unless CurrentVersion names another.
func (k *Key) Latest() (uint32, *keyspec.Key) {
	if k.CurrentVersion != 0 {
		return k.CurrentVersion, k.parsed[k.CurrentVersion]
	}
	if len(k.Versions) == 0 {
		return 0, nil
	}
	v := k.Versions[len(k.Versions)-1].Version
	return v, k.parsed[v]
}

// ParsedVersion returns the parsed key of one material version.
func (k *Key) ParsedVersion(v uint32) (*keyspec.Key, bool) {
	p, ok := k.parsed[v]
	return p, ok
}

// SetParsed records the parsed key of a version whose material was set.
func (k *Key) SetParsed(v uint32, p *keyspec.Key) {
	if k.parsed == nil {
		k.parsed = map[uint32]*keyspec.Key{}
	}
	k.parsed[v] = p
}

// ParsedCount is how many material versions are parsed (held in memory).
func (k *Key) ParsedCount() int { return len(k.parsed) }

// DropVersions forgets every version (for tests of the append-only rule).
func (k *Key) DropVersions() { k.Versions, k.parsed = nil, nil }

// versionMaterial returns the stored material of one version.
func (k *Key) versionMaterial(v uint32) ([]byte, bool) {
	for _, kv := range k.Versions {
		if kv.Version == v {
			_, parsed := k.parsed[v]
			return kv.Material, parsed
		}
	}
	return nil, false
}

// OnDemandRotations counts the key's on-demand rotations.
func (k *Key) OnDemandRotations() int {
	n := 0
	for _, v := range k.Versions {
		if v.RotationType == RotationOnDemand {
			n++
		}
	}
	return n
}

// AddVersion appends new key material.
func (k *Key) AddVersion(p *keyspec.Key, at time.Time) error {
	raw, err := p.Marshal()
	if err != nil {
		return err
	}
	var next uint32 = 1
	if n := len(k.Versions); n > 0 {
		next = k.Versions[n-1].Version + 1
	}
	k.Versions = append(k.Versions, Version{Version: next, Material: raw, CreatedAt: at})
	k.SetParsed(next, p)
	return nil
}

// AddHSMVersion appends a version whose material is the key object with
// this label in the key's custom key store: only the label is stored.
func (k *Key) AddHSMVersion(label string, at time.Time) {
	var next uint32 = 1
	if n := len(k.Versions); n > 0 {
		next = k.Versions[n-1].Version + 1
	}
	k.Versions = append(k.Versions, Version{Version: next, HSMLabel: label, CreatedAt: at})
}

// InHSM reports whether the key's material lives in a custom key store.
func (k *Key) InHSM() bool { return k.CustomKeyStoreID != "" }

// HSMLabels are the labels of the key's objects in its custom key store.
func (k *Key) HSMLabels() []string {
	var out []string
	for _, v := range k.Versions {
		if v.HSMLabel != "" {
			out = append(out, v.HSMLabel)
		}
	}
	return out
}

// HSMLabel is the label of the key object of a version, "" if none.
func (k *Key) HSMLabel(v uint32) string {
	if kv := k.FindVersion(v); kv != nil {
		return kv.HSMLabel
	}
	return ""
}

// HSMObjectLabel is the label a key's version gets in the token: derived
// from the key id, so a create that crashed before the key entry was
// written still leads the sweep to the object.
func HSMObjectLabel(keyID string, version uint32) string {
	return fmt.Sprintf("kms-%s-v%d", keyID, version)
}

// parse fills the derived fields after a storage read. Parsing an RSA key
// is costly, which is why parsed entries are cached: versions whose
// material equals prev's reuse prev's parsed keys.
func (st *Store) parse(k, prev *Key) error {
	spec, ok := keyspec.Lookup(k.KeySpec)
	if !ok {
		return fmt.Errorf("stored key %s has unknown key spec %q", k.KeyID, k.KeySpec)
	}
	k.spec = spec
	if err := st.parsePolicy(k, prev); err != nil {
		return err
	}
	k.parsed = make(map[uint32]*keyspec.Key, len(k.Versions))
	for _, v := range k.Versions {
		if len(v.Material) == 0 {
			continue // deleted imported material, or a key object in a token
		}
		if prev != nil && prev.KeySpec == k.KeySpec {
			if pv, ok := prev.versionMaterial(v.Version); ok && bytes.Equal(pv, v.Material) {
				k.parsed[v.Version] = prev.parsed[v.Version]
				continue
			}
		}
		p, err := spec.Parse(v.Material)
		if err != nil {
			return fmt.Errorf("stored key %s version %d: %w", k.KeyID, v.Version, err)
		}
		k.parsed[v.Version] = p
	}
	return nil
}

// parsePolicy parses the stored policy document. A document the parser
// refuses (one stored before the parser came to refuse it) has no one
// meaning: it is enforced as RefusedPolicy, "deny everything", rather than
// guessed at, and the key still loads so that policy recovery can replace
// it. Without a RefusedPolicy such a key does not load.
func (st *Store) parsePolicy(k, prev *Key) error {
	if prev != nil && prev.Policy == k.Policy {
		k.ParsedPolicy = prev.ParsedPolicy
		return nil
	}
	if k.Policy == "" {
		return nil
	}
	if st.deps.ParsePolicy == nil {
		// Without a parser a stored policy would read as nil, the default
		// (allow-all) policy: refuse to load the key instead.
		return fmt.Errorf("stored key %s has a key policy and the key store has no policy parser", k.KeyID)
	}
	p, err := st.deps.ParsePolicy(k.Policy)
	if err != nil {
		if st.deps.RefusedPolicy == nil {
			return fmt.Errorf("stored key %s: its key policy no longer parses: %w", k.KeyID, err)
		}
		st.logger().Warn("a stored key policy no longer parses; it denies everything until replaced through policy-recovery", "key_id", k.KeyID)
		p = st.deps.RefusedPolicy
	}
	k.ParsedPolicy = p
	return nil
}
