package keystore

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
)

// Deps is what the store takes from the plugin around it.
type Deps struct {
	// Now is the plugin's clock (tests move it).
	Now func() time.Time
	// Random returns the plugin's entropy (tests replace it).
	Random func() io.Reader
	// WriteSafe reports whether this node may write the mount's storage
	// (not a performance standby).
	WriteSafe func() bool
	// Logger returns the plugin's logger (set only once Vault sets it up).
	Logger func() hclog.Logger
	// TokenKey returns the mount's token key, under which material ids
	// are computed.
	TokenKey func(ctx context.Context, s logical.Storage) ([]byte, error)
	// ParsePolicy parses a stored key policy document.
	ParsePolicy func(doc string) (*awspolicy.Policy, error)
	// RefusedPolicy stands in for a stored document ParsePolicy refuses:
	// it should deny everything (see parsePolicy).
	RefusedPolicy *awspolicy.Policy
	// DeleteGrants removes a destroyed key's grants with their indexes.
	DeleteGrants func(ctx context.Context, s logical.Storage, keyID string) error
	// ReleaseHSM destroys a key's objects (labels) in its custom key store
	// and removes the key from the store's index. An error (the store is
	// not connected) keeps the key for the next sweep.
	ReleaseHSM func(ctx context.Context, s logical.Storage, storeID, keyID string, labels []string) error
}

// Store holds the per-key locks and the caches of keys and aliases, and
// reads and writes keys through them.
type Store struct {
	deps Deps

	// locks serialise read-modify-write of one key; AliasLock serialises
	// alias changes, which must keep names unique across all keys.
	locks     []*locksutil.LockEntry
	AliasLock sync.Mutex
	rotations rotationQueue
	usage     usageTracker

	Keys     *GenCache[*Key]     // key id
	Aliases  *GenCache[*Alias]   // alias name; nil caches "no such alias"
	KeyAlias *GenCache[[]string] // key id -> its alias names, sorted

	// encryptions holds the reserved encryptions of keys in a custom key
	// store (encryptions.go), at most EncryptionLimit per key, reserved
	// EncryptionBlock at a time; tests lower both.
	encryptions     *GenCache[*encryptionBlock]
	EncryptionLimit uint64
	EncryptionBlock uint64
}

// New returns a store with empty caches.
func New(d Deps) *Store {
	return &Store{
		deps:     d,
		locks:    locksutil.CreateLocks(),
		Keys:     NewGenCache[*Key](),
		Aliases:  NewGenCache[*Alias](),
		KeyAlias: NewGenCache[[]string](),

		encryptions:     NewGenCache[*encryptionBlock](),
		EncryptionLimit: DefaultEncryptionLimit,
		EncryptionBlock: DefaultEncryptionBlock,
	}
}

func (st *Store) logger() hclog.Logger {
	if st.deps.Logger == nil {
		return hclog.NewNullLogger()
	}
	if l := st.deps.Logger(); l != nil {
		return l
	}
	return hclog.NewNullLogger()
}

func (st *Store) now() time.Time { return st.deps.Now() }

// Reset forgets every cached entry (Vault's Clean); the unused rest of
// each reserved block of encryptions counts as used.
func (st *Store) Reset() {
	st.Keys.Reset()
	st.Aliases.Reset()
	st.KeyAlias.Reset()
	st.encryptions.Reset()
}

// KeyCacheBytesPerKey is the parsed-key memory the cache allows per entry
// of key_cache_size: the default size (100,000) bounds it to about 1 GiB,
// half of a 2 GiB plugin, however large the keys (see CachedBytes).
const KeyCacheBytesPerKey = 10 << 10

// weighKey is a cached key's estimated heap: each parsed material version
// of its spec, and the entry itself.
func weighKey(k *Key) int64 {
	if k == nil || k.spec == nil {
		return 1 << 10
	}
	return int64(len(k.parsed)*k.spec.CachedBytes() + 1<<10)
}

// SetKeyLimit bounds the per-key caches: parsed keys (at most n, and at
// most n x KeyCacheBytesPerKey of estimated heap) and alias lists; aliases
// (names that do not exist included) get ten per key.
func (st *Store) SetKeyLimit(n int) {
	st.Keys.SetLimit(n)
	st.Keys.SetWeight(weighKey, int64(n)*KeyCacheBytesPerKey)
	st.KeyAlias.SetLimit(n)
	st.Aliases.SetLimit(10 * n)
	// A block is a few words, and dropping one loses encryptions of a key
	// that cannot be rotated: ten per key, as aliases.
	st.encryptions.SetLimit(10 * n)
}

// Lock takes a key's lock and returns its unlock.
func (st *Store) Lock(id string) func() {
	l := locksutil.LockForKey(st.locks, id)
	l.Lock()
	return l.Unlock
}

// Read reads and parses a key from storage, bypassing the cache; nil for
// a key that does not exist. Versions whose material equals prev's reuse
// prev's parsed keys, since parsing an RSA key is costly.
func (st *Store) Read(ctx context.Context, s logical.Storage, id string, prev *Key) (*Key, error) {
	raw, err := s.Get(ctx, KeyPrefix+id)
	if err != nil || raw == nil {
		return nil, err
	}
	k := &Key{}
	if err := raw.DecodeJSON(k); err != nil {
		return nil, err
	}
	if err := st.parse(k, prev); err != nil {
		return nil, err
	}
	return k, nil
}

// Get reads a key by id, from the cache when it can. It returns nil for a
// key that does not exist. The fill is dropped if the key was written or
// invalidated while storage was being read.
func (st *Store) Get(ctx context.Context, s logical.Storage, id string) (*Key, error) {
	if k, ok := st.Keys.Get(id); ok {
		return k, nil
	}
	t := st.Keys.Ticket()
	k, err := st.Read(ctx, s, id, nil)
	if err != nil || k == nil {
		return nil, err
	}
	st.Keys.Fill(id, t, k)
	return k, nil
}

// Load reads a key from storage, never from the cache: every
// read-modify-write starts here, under the key's lock.
func (st *Store) Load(ctx context.Context, s logical.Storage, id string) (*Key, error) {
	prev, _ := st.Keys.Get(id)
	t := st.Keys.Ticket()
	k, err := st.Read(ctx, s, id, prev)
	if err != nil || k == nil {
		return nil, err
	}
	st.Keys.Fill(id, t, k)
	return k, nil
}

// Put writes a key; the caller holds the key's lock. Key material
// versions are append-only: Put reads the stored entry and refuses a write
// that would change or drop the material of a stored version (only
// DeleteImportedKeyMaterial and expiry drop imported material).
func (st *Store) Put(ctx context.Context, s logical.Storage, k *Key) error {
	raw, err := s.Get(ctx, KeyPrefix+k.KeyID)
	if err != nil {
		return err
	}
	if raw != nil {
		var stored Key
		if err := raw.DecodeJSON(&stored); err != nil {
			return err
		}
		key, err := st.deps.TokenKey(ctx, s)
		if err != nil {
			return err
		}
		if err := CheckAppendOnly(&stored, k, func(m []byte) string { return MaterialID(key, k.KeyID, m) }); err != nil {
			st.logger().Error("refused a key write that would replace key material", "key_id", k.KeyID, "error", err)
			return err
		}
	}
	entry, err := logical.StorageEntryJSON(KeyPrefix+k.KeyID, k)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, entry); err != nil {
		return err
	}
	st.Keys.Put(k.KeyID, k)
	return nil
}

// IsDeleted reports whether a key is gone for every caller: its pending
// deletion has come due (even before the periodic sweep removes it), or
// its creation never finished.
func (st *Store) IsDeleted(k *Key) bool {
	return k.Creating || k.State == StatePendingDeletion && !st.now().Before(k.DeletionDate)
}

// DeletionEntry is the deletion/ index entry of a key pending deletion.
type DeletionEntry struct {
	KeyID        string    `json:"key_id"`
	DeletionDate time.Time `json:"deletion_date"`
}
