package kms

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// identityTTL is how long the caller's entity name and groups are cached.
// Grants and policies are never cached stale; group membership changes
// take effect within this time.
const identityTTL = 5 * time.Second

type cachedIdentity struct {
	set     principalSet
	expires time.Time
}

// identityCache maps entity ids to their principal sets.
type identityCache struct {
	mu sync.Mutex
	m  map[string]cachedIdentity
}

// principals returns everything the request's caller is known as. A token
// without an entity (an orphan token, a root token) is principalNoEntity.
// Vault tells a plugin neither a token's policies nor whether it is a root
// token, so every entity-less token is treated alike; root remains the
// operator through sudo on policy-recovery/ and the default policy.
func (b *backend) principals(req *logical.Request) (principalSet, error) {
	id := req.EntityID
	if id == "" {
		return principalSet{names: []string{principalNoEntity}}, nil
	}
	now := time.Now()
	b.identities.mu.Lock()
	c, ok := b.identities.m[id]
	b.identities.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.set, nil
	}
	set, err := b.lookupIdentity(id)
	if err != nil {
		return principalSet{}, err
	}
	b.identities.mu.Lock()
	if b.identities.m == nil || len(b.identities.m) > 10000 {
		b.identities.m = map[string]cachedIdentity{}
	}
	b.identities.m[id] = cachedIdentity{set: set, expires: now.Add(identityTTL)}
	b.identities.mu.Unlock()
	return set, nil
}

// identityFromVault asks Vault, through the system view, for the entity's
// name and groups.
func (b *backend) identityFromVault(entityID string) (principalSet, error) {
	names := []string{"*", "entity:" + entityID}
	ent, err := b.System().EntityInfo(entityID)
	if err != nil {
		return principalSet{}, err
	}
	if ent != nil && ent.Name != "" {
		names = append(names, "entity_name:"+ent.Name)
	}
	groups, err := b.System().GroupsForEntity(entityID)
	if err != nil {
		return principalSet{}, err
	}
	for _, g := range groups {
		names = append(names, "group:"+g.Name, "group_id:"+g.ID)
	}
	set := principalSet{names: names}
	if ent != nil {
		set.metadata = ent.Metadata
	}
	return set, nil
}

// authorize is the plugin's gate, after Vault's ACL: the key policy's Deny
// statements refuse, then an Allow statement or an active grant admits.
// ec is the operation's encryption context; tokens are its grant tokens,
// checked only once the caller is admitted (whether a token is valid is
// not for a caller the key refuses to learn).
func (b *backend) authorize(ctx context.Context, req *logical.Request, e *keyEntry, op string, ec map[string]string, tokens []string) error {
	who, err := b.principals(req)
	if err != nil {
		return err
	}
	hasContext := operations[op].context
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
	if g := x.find(who, op, ec, hasContext, b.mountAccount()); g != nil {
		b.logDecision(e, op, who, "allow", "grant "+g.GrantID)
		return b.checkGrantTokens(ctx, req.Storage, tokens)
	}
	b.logDecision(e, op, who, "deny", "no statement or grant allows it")
	return accessDenied(e, op, who)
}

// policyDecision applies the key policy alone, logging the decision it
// makes; noDecision leaves the caller to grants or to refusal.
func (b *backend) policyDecision(ctx context.Context, req *logical.Request, e *keyEntry, who principalSet, op string, ec map[string]string) (decision, error) {
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
	who, err := b.principals(req)
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

func accessDenied(e *keyEntry, op string, who principalSet) error {
	return newErr(excAccessDenied, "%s is not allowed to perform %s on key '%s'", who, op, e.KeyID)
}

// logDecision records who was allowed or refused what, and why. It never
// logs key material, plaintext or the encryption context's values.
func (b *backend) logDecision(e *keyEntry, op string, who principalSet, verdict, by string) {
	if l := b.Logger(); l.IsDebug() {
		l.Debug("authorization", "key_id", e.KeyID, "operation", op, "principal", who.String(), "decision", verdict, "by", by)
	}
}
