package customkeystore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// Storage layout (none of it holds a secret; the PINs are in the
// connections, connection.go):
//
//	custom-key-store/<id>                 Store
//	custom-key-store-key/<id>/<key id>    a key in the store (empty value)
//	custom-key-store-wanted               ids of the stores to connect at start
const (
	storePrefix = "custom-key-store/"
	keyPrefix   = "custom-key-store-key/"
	wantedKey   = "custom-key-store-wanted"
)

// DefaultLimit is AWS's quota of custom key stores per account and Region.
const DefaultLimit = 10

// Registry reads and changes the stores. Its lock serialises changes, so
// names and connections stay unique; reads take no lock.
type Registry struct {
	mu     sync.Mutex
	Limit  int
	Random io.Reader
}

// NewRegistry returns a registry with AWS's limit and crypto/rand ids.
func NewRegistry() *Registry { return &Registry{Limit: DefaultLimit, Random: rand.Reader} }

// CreateInput is a CreateCustomKeyStore whose connection was checked (its
// PIN logged in) by the caller, which found the token's serial number.
type CreateInput struct {
	Name, Connection, TokenSerial, TrustAnchor string
}

// Create adds a disconnected store.
func (r *Registry) Create(ctx context.Context, s logical.Storage, in CreateInput, now time.Time) (*Store, error) {
	if err := ValidName(in.Name); err != nil {
		return nil, err
	}
	if !ValidConnectionName(in.Connection) {
		return nil, refuse(ErrInvalid, "CloudHsmClusterId must match cluster-[2-7a-zA-Z]{11,16}")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.List(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(all) >= r.Limit {
		return nil, refuse(ErrLimit, "the mount has %d custom key stores, the most it allows", len(all))
	}
	if err := unique(all, "", in.Name, in.Connection); err != nil {
		return nil, err
	}
	id, err := r.newID()
	if err != nil {
		return nil, err
	}
	st := &Store{ID: id, Name: in.Name, Type: TypeCloudHSM, Connection: in.Connection, TokenSerial: in.TokenSerial,
		TrustAnchor: in.TrustAnchor, State: Disconnected, CreationDate: now.UTC()}
	return st, put(ctx, s, st)
}

// Available refuses a name or connection that a store already has, so a
// caller can learn that before logging in to the token: a login through a
// connection that a connected store holds fails for that reason alone
// (USER_LOGGED_IN), which would hide the real answer. Create checks again
// under the lock.
func (r *Registry) Available(ctx context.Context, s logical.Storage, name, connection string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.List(ctx, s)
	if err != nil {
		return err
	}
	return unique(all, "", name, connection)
}

// unique refuses a name or connection another store (not self) has.
func unique(all []*Store, self, name, connection string) error {
	for _, o := range all {
		if o.ID == self {
			continue
		}
		if o.Name == name {
			return refuse(ErrNameInUse, "another custom key store has that name")
		}
		if o.Connection == connection {
			return refuse(ErrConnectionInUse, "custom key store %s uses that HSM connection", o.ID)
		}
	}
	return nil
}

// AWS's ids are cks- and 17 hexadecimal digits.
func (r *Registry) newID() (string, error) {
	b := make([]byte, 9)
	if _, err := io.ReadFull(r.Random, b); err != nil {
		return "", err
	}
	return "cks-" + hex.EncodeToString(b)[:17], nil
}

// Get reads one store; a missing one is ErrNotFound.
func (r *Registry) Get(ctx context.Context, s logical.Storage, id string) (*Store, error) {
	if !ValidID(id) {
		return nil, refuse(ErrNotFound, "no custom key store has that id")
	}
	e, err := s.Get(ctx, storePrefix+id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, refuse(ErrNotFound, "custom key store %s does not exist", id)
	}
	var st Store
	if err := json.Unmarshal(e.Value, &st); err != nil {
		return nil, fmt.Errorf("custom key store %s: %w", id, err)
	}
	return &st, nil
}

// List reads every store, sorted by id.
func (r *Registry) List(ctx context.Context, s logical.Storage) ([]*Store, error) {
	ids, err := s.List(ctx, storePrefix)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	out := make([]*Store, 0, len(ids))
	for _, id := range ids {
		st, err := r.Get(ctx, s, id)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ByName returns the store with the name.
func (r *Registry) ByName(ctx context.Context, s logical.Storage, name string) (*Store, error) {
	all, err := r.List(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, st := range all {
		if st.Name == name {
			return st, nil
		}
	}
	return nil, refuse(ErrNotFound, "no custom key store has that name")
}

// Change applies fn to the stored record under the registry's lock and
// writes it back; a name or connection fn sets must stay unique. Nothing
// is written when fn fails.
func (r *Registry) Change(ctx context.Context, s logical.Storage, id string, fn func(*Store) error) (*Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.Get(ctx, s, id)
	if err != nil {
		return nil, err
	}
	name, conn, want := st.Name, st.Connection, st.WantConnected
	if err := fn(st); err != nil {
		return nil, err
	}
	// One entry read at start names the stores to connect, so a start
	// lists nothing. It is widened before and narrowed after the record: a
	// crash leaves at most an id whose record says no.
	if st.WantConnected && !want {
		if err := setWanted(ctx, s, st.ID, true); err != nil {
			return nil, err
		}
	}
	if st.Name != name || st.Connection != conn {
		if err := ValidName(st.Name); err != nil {
			return nil, err
		}
		if !ValidConnectionName(st.Connection) {
			return nil, refuse(ErrInvalid, "CloudHsmClusterId must match cluster-[2-7a-zA-Z]{11,16}")
		}
		all, err := r.List(ctx, s)
		if err != nil {
			return nil, err
		}
		if err := unique(all, st.ID, st.Name, st.Connection); err != nil {
			return nil, err
		}
	}
	if err := put(ctx, s, st); err != nil {
		return nil, err
	}
	if want && !st.WantConnected {
		if err := setWanted(ctx, s, st.ID, false); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Delete removes a store that is disconnected and holds no keys.
func (r *Registry) Delete(ctx context.Context, s logical.Storage, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.Get(ctx, s, id)
	if err != nil {
		return err
	}
	if st.State != Disconnected {
		return refuse(ErrInvalidState, "custom key store %s is %s: disconnect it before deleting it", id, st.State)
	}
	keys, err := s.List(ctx, keyPrefix+id+"/")
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return refuse(ErrHasKeys, "custom key store %s holds %d keys: delete them first", id, len(keys))
	}
	return s.Delete(ctx, storePrefix+id)
}

// AddKey records that a key lives in the store, before its key object is
// generated, so the store cannot be deleted from under it.
func (r *Registry) AddKey(ctx context.Context, s logical.Storage, id, keyID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.Get(ctx, s, id); err != nil {
		return err
	}
	if keyID == "" || strings.Contains(keyID, "/") {
		return refuse(ErrInvalid, "invalid key id")
	}
	return s.Put(ctx, &logical.StorageEntry{Key: keyPrefix + id + "/" + keyID})
}

// RemoveKey records that a key's object was destroyed.
func (r *Registry) RemoveKey(ctx context.Context, s logical.Storage, id, keyID string) error {
	return s.Delete(ctx, keyPrefix+id+"/"+keyID)
}

// Keys lists the ids of the keys in the store.
func (r *Registry) Keys(ctx context.Context, s logical.Storage, id string) ([]string, error) {
	return s.List(ctx, keyPrefix+id+"/")
}

// Wanted lists the ids of the stores an operator connected, which the
// node that becomes active connects again.
func (r *Registry) Wanted(ctx context.Context, s logical.Storage) ([]string, error) {
	e, err := s.Get(ctx, wantedKey)
	if err != nil || e == nil {
		return nil, err
	}
	var ids []string
	return ids, json.Unmarshal(e.Value, &ids)
}

func setWanted(ctx context.Context, s logical.Storage, id string, want bool) error {
	e, err := s.Get(ctx, wantedKey)
	if err != nil {
		return err
	}
	var ids []string
	if e != nil {
		if err := json.Unmarshal(e.Value, &ids); err != nil {
			return err
		}
	}
	ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
	if want {
		ids = append(ids, id)
	}
	raw, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return s.Put(ctx, &logical.StorageEntry{Key: wantedKey, Value: raw})
}

func put(ctx context.Context, s logical.Storage, st *Store) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.Put(ctx, &logical.StorageEntry{Key: storePrefix + st.ID, Value: raw})
}
