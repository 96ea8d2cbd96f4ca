package kms

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// identityTTL is how long the caller's entity name and groups are cached.
// Grants and policies are never cached stale; group membership changes
// take effect within this time.
const identityTTL = 5 * time.Second

type cachedIdentity struct {
	who     awspolicy.Caller
	expires time.Time
}

// identityCache maps entity ids to their resolved identities.
type identityCache struct {
	mu sync.Mutex
	m  map[string]cachedIdentity
}

// errEntityGone: the token names an entity the identity store no longer
// has (merged into another, or deleted). Vault keeps such a token working.
var errEntityGone = errors.New("entity not found")

// caller resolves the request's caller, once, into the canonical principal
// every authorization decision uses. A token without an entity (an orphan
// token, a root token) is entity-less: Vault tells a plugin neither a
// token's policies nor whether it is a root token, so every entity-less
// token is treated alike; root remains the operator through sudo on
// policy-recovery/. A token whose entity no longer exists is refused: as
// an unknown caller it would escape every Deny that names her.
//
// Within one request (withPolicyAttrs marks it) the caller is resolved
// once, so every decision of the request, a batch's items included, sees
// the same identity.
func (b *backend) caller(ctx context.Context, req *logical.Request) (*awspolicy.Caller, error) {
	if m, ok := ctx.Value(callerKey{}).(*callerMemo); ok {
		m.once.Do(func() { m.who, m.err = b.resolveCaller(req) })
		return m.who, m.err
	}
	return b.resolveCaller(req)
}

type callerKey struct{}

type callerMemo struct {
	once sync.Once
	who  *awspolicy.Caller
	err  error
}

// withCallerMemo marks ctx as one request's, for caller.
func withCallerMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerKey{}, &callerMemo{})
}

func (b *backend) resolveCaller(req *logical.Request) (*awspolicy.Caller, error) {
	who := awspolicy.Caller{EntityLess: true}
	if id := req.EntityID; id != "" {
		c, err := b.cachedIdentity(id)
		if errors.Is(err, errEntityGone) {
			return nil, kmserr.New(kmserr.AccessDenied, "the token's entity no longer exists (it was merged into another entity or deleted); log in again")
		}
		if err != nil {
			return nil, err
		}
		who = *c
	}
	who.Account = b.mountAccount()
	return &who, nil
}

func (b *backend) cachedIdentity(id string) (*awspolicy.Caller, error) {
	now := time.Now()
	b.identities.mu.Lock()
	c, ok := b.identities.m[id]
	b.identities.mu.Unlock()
	if ok && now.Before(c.expires) {
		return &c.who, nil
	}
	who, err := b.lookupIdentity(id)
	if err != nil {
		return nil, err
	}
	b.identities.mu.Lock()
	if b.identities.m == nil || len(b.identities.m) > 10000 {
		b.identities.m = map[string]cachedIdentity{}
	}
	b.identities.m[id] = cachedIdentity{who: *who, expires: now.Add(identityTTL)}
	b.identities.mu.Unlock()
	return who, nil
}

// identityFromVault asks Vault, through the system view, for the entity's
// name, metadata and groups; errEntityGone when it has no such entity.
func (b *backend) identityFromVault(entityID string) (*awspolicy.Caller, error) {
	ent, err := b.System().EntityInfo(entityID)
	if err != nil {
		return nil, err
	}
	if ent == nil {
		return nil, errEntityGone
	}
	c := &awspolicy.Caller{EntityID: entityID, EntityName: ent.Name, Metadata: ent.Metadata}
	groups, err := b.System().GroupsForEntity(entityID)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		c.GroupNames = append(c.GroupNames, g.Name)
		c.GroupIDs = append(c.GroupIDs, g.ID)
	}
	return c, nil
}

// authorize is the plugin's gate, after Vault's ACL: the key policy's Deny
// statements refuse, then an Allow statement or an active grant admits.
// ec is the operation's encryption context; tokens are its grant tokens,
// checked only once the caller is admitted (whether a token is valid is
// not for a caller the key refuses to learn).
func (b *backend) authorize(ctx context.Context, req *logical.Request, e *keyEntry, op string, ec map[string]string, tokens []string) error {
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	hasContext := access.Operations[op].Context
	verdict, err := b.policyDecision(ctx, req, e, who, op, ec)
	if err != nil {
		return err
	}
	switch verdict {
	case denied:
		return accessDenied(e, op, who)
	case allowed:
		return b.checkGrantTokens(ctx, req.Storage, tokens)
	}
	x, err := b.grants(ctx, req.Storage, e.KeyID)
	if err != nil {
		return err
	}
	if g := x.find(who, op, ec, hasContext); g != nil {
		b.logDecision(e, op, who, "allow", "grant "+g.GrantID)
		return b.checkGrantTokens(ctx, req.Storage, tokens)
	}
	b.logDecision(e, op, who, "deny", "no statement or grant allows it")
	return accessDenied(e, op, who)
}

// policyDecision applies the key policy alone, logging the decision it
// makes; noDecision leaves the caller to grants or to refusal.
func (b *backend) policyDecision(ctx context.Context, req *logical.Request, e *keyEntry, who *awspolicy.Caller, op string, ec map[string]string) (decision, error) {
	verdict, by, err := b.evaluatePolicy(ctx, req, e, who, op, ec)
	if err != nil {
		return noDecision, err
	}
	switch verdict {
	case denied:
		b.logDecision(e, op, who, "deny", "policy statement "+by)
	case allowed:
		b.logDecision(e, op, who, "allow", "policy statement "+by)
	}
	return verdict, nil
}

// authorizeByPolicy admits the caller only if the key policy allows op:
// for operations where a grant on the key must not count, such as retiring
// a grant other than the caller's own.
func (b *backend) authorizeByPolicy(ctx context.Context, req *logical.Request, e *keyEntry, op string) error {
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	verdict, err := b.policyDecision(ctx, req, e, who, op, nil)
	if err != nil {
		return err
	}
	if verdict == allowed {
		return nil
	}
	b.logDecision(e, op, who, "deny", "no policy statement allows it")
	return accessDenied(e, op, who)
}

// checkGrantTokens refuses a request whose grant tokens are not all ours
// (InvalidGrantTokenException). A valid token adds nothing beyond its
// grant, which is always visible here.
func (b *backend) checkGrantTokens(ctx context.Context, s logical.Storage, tokens []string) error {
	for _, t := range tokens {
		if _, _, err := b.parseGrantToken(ctx, s, t); err != nil {
			return err
		}
	}
	return nil
}

func accessDenied(e *keyEntry, op string, who *awspolicy.Caller) error {
	if e.keyPolicy() == access.RefusedPolicy {
		return kmserr.New(kmserr.AccessDenied, "key '%s' has a stored policy the plugin no longer reads (such as the pre-release "+
			`{"statements": [...]} format): it denies every request until an operator replaces it through kms/policy-recovery/%s`, e.KeyID, e.KeyID)
	}
	return kmserr.New(kmserr.AccessDenied, "%s is not allowed to perform %s on key '%s'", who, op, e.KeyID)
}

// logDecision records who was allowed or refused what, and why. It never
// logs key material, plaintext or the encryption context's values.
func (b *backend) logDecision(e *keyEntry, op string, who *awspolicy.Caller, verdict, by string) {
	if l := b.Logger(); l.IsDebug() {
		l.Debug("authorization", "key_id", e.KeyID, "operation", op, "principal", who.String(), "decision", verdict, "by", by)
	}
}
