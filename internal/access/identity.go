package access

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// identityTTL is how long the caller's entity name and groups are cached.
// Grants and policies are never cached stale; group membership changes
// take effect within this time.
const identityTTL = 5 * time.Second

// ErrEntityGone: the token names an entity the identity store no longer
// has (merged into another, or deleted). Vault keeps such a token working.
var ErrEntityGone = errors.New("entity not found")

// Lookup asks Vault for an entity's name, metadata and groups;
// ErrEntityGone when it has no such entity.
type Lookup func(entityID string) (*awspolicy.Caller, error)

// Identity is the part of logical.SystemView that resolves entities.
type Identity interface {
	EntityInfo(entityID string) (*logical.Entity, error)
	GroupsForEntity(entityID string) ([]*logical.Group, error)
}

// FromVault is the Lookup that asks Vault, through the system view.
func FromVault(sys func() Identity) Lookup {
	return func(entityID string) (*awspolicy.Caller, error) {
		ent, err := sys().EntityInfo(entityID)
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return nil, ErrEntityGone
		}
		c := &awspolicy.Caller{EntityID: entityID, EntityName: ent.Name, Metadata: ent.Metadata}
		groups, err := sys().GroupsForEntity(entityID)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			c.GroupNames = append(c.GroupNames, g.Name)
			c.GroupIDs = append(c.GroupIDs, g.ID)
		}
		return c, nil
	}
}

type cachedIdentity struct {
	who     awspolicy.Caller
	expires time.Time
}

// IdentityCache maps entity ids to their resolved identities, for
// identityTTL. The zero value is ready to use.
type IdentityCache struct {
	mu sync.Mutex
	m  map[string]cachedIdentity
}

// Get returns entity id's identity, from the cache or through lookup.
func (x *IdentityCache) Get(id string, lookup Lookup) (*awspolicy.Caller, error) {
	now := time.Now()
	x.mu.Lock()
	c, ok := x.m[id]
	x.mu.Unlock()
	if ok && now.Before(c.expires) {
		return &c.who, nil
	}
	who, err := lookup(id)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.m == nil || len(x.m) > 10000 {
		x.m = map[string]cachedIdentity{}
	}
	x.m[id] = cachedIdentity{who: *who, expires: now.Add(identityTTL)}
	x.mu.Unlock()
	return who, nil
}

// Resolve builds the canonical principal every authorization decision
// uses from the request's entity id. A token without an entity (an orphan
// token, a root token) is entity-less: Vault tells a plugin neither a
// token's policies nor whether it is a root token, so every entity-less
// token is treated alike; root remains the operator through sudo on
// policy-recovery/. A token whose entity no longer exists is refused: as
// an unknown caller it would escape every Deny that names her.
func (x *IdentityCache) Resolve(entityID string, lookup Lookup, acct awspolicy.Account) (*awspolicy.Caller, error) {
	who := awspolicy.Caller{EntityLess: true}
	if entityID != "" {
		c, err := x.Get(entityID, lookup)
		if errors.Is(err, ErrEntityGone) {
			return nil, kmserr.New(kmserr.AccessDenied, "the token's entity no longer exists (it was merged into another entity or deleted); log in again")
		}
		if err != nil {
			return nil, err
		}
		who = *c
	}
	who.Account = acct
	return &who, nil
}

type callerKey struct{}

type callerMemo struct {
	once sync.Once
	who  *awspolicy.Caller
	err  error
}

// WithCallerMemo marks ctx as one request's: within it the caller is
// resolved once, so every decision of the request, a batch's items
// included, sees the same identity.
func WithCallerMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerKey{}, &callerMemo{})
}

// Caller returns the request's caller, resolving it once per request
// (WithCallerMemo) or on every call outside one.
func Caller(ctx context.Context, resolve func() (*awspolicy.Caller, error)) (*awspolicy.Caller, error) {
	if m, ok := ctx.Value(callerKey{}).(*callerMemo); ok {
		m.once.Do(func() { m.who, m.err = resolve() })
		return m.who, m.err
	}
	return resolve()
}
