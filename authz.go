package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// This file is the glue between Vault's requests and internal/access,
// which holds the rules: it builds access's questions from the request
// and the key, and turns its decisions into AWS errors and logs.

// caller resolves the request's caller, once per request (withPolicyAttrs
// marks it), into the canonical principal (access.IdentityCache.Resolve).
// The caller's account is the configured one, read as the policy question
// reads it: the loaded configuration is dropped when another node changes
// it, and a caller of the default account would escape every Deny naming
// the configured account's users and roles.
func (b *backend) caller(ctx context.Context, req *logical.Request) (*awspolicy.Caller, error) {
	return access.Caller(ctx, func() (*awspolicy.Caller, error) {
		cfg, err := b.config(ctx, req.Storage)
		if err != nil {
			return nil, err
		}
		return b.identities.Resolve(req.EntityID, b.lookupIdentity, cfg.account())
	})
}

// cachedIdentity is entity id's identity, through the identity cache.
func (b *backend) cachedIdentity(id string) (*awspolicy.Caller, error) {
	return b.identities.Get(id, b.lookupIdentity)
}

// accessRequest is access's question for caller who performing op on key e.
func (b *backend) accessRequest(ctx context.Context, req *logical.Request, e *keystore.Key, who *awspolicy.Caller, op string, ec map[string]string) (*access.Request, error) {
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	r := &access.Request{Caller: who, Op: op, EC: ec, Account: cfg.account(), Attrs: access.AttrsFrom(ctx),
		Now: b.now(), Evaluations: &b.policyEvaluations,
		Key: access.Key{ID: e.KeyID, ARN: cfg.arns().Key(e.KeyID), Policy: e.KeyPolicy(),
			Spec: e.KeySpec, Usage: string(e.KeyUsage), Origin: e.Origin,
			Aliases: func() ([]string, error) { return b.keys.AliasesOf(ctx, req.Storage, e.KeyID) }}}
	if c := req.Connection; c != nil {
		r.Conn = &access.Conn{RemoteAddr: c.RemoteAddr, TLS: c.ConnState != nil}
	}
	return r, nil
}

// decide asks access.Decide and logs what it decided.
func (b *backend) decide(ctx context.Context, e *keystore.Key, r *access.Request) (access.Decision, error) {
	d, err := access.Decide(ctx, r)
	if err != nil {
		return d, err
	}
	verdict := "deny"
	if d.Verdict == access.Allowed {
		verdict = "allow"
	}
	b.logDecision(e, r.Op, r.Caller, verdict, d.By)
	return d, nil
}

// authorize is the plugin's gate, after Vault's ACL: the key policy's Deny
// statements refuse, then an Allow statement or an active grant admits.
// ec is the operation's encryption context; tokens are its grant tokens,
// checked only once the caller is admitted (whether a token is valid is
// not for a caller the key refuses to learn).
func (b *backend) authorize(ctx context.Context, req *logical.Request, e *keystore.Key, op string, ec map[string]string, tokens []string) error {
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	r, err := b.accessRequest(ctx, req, e, who, op, ec)
	if err != nil {
		return err
	}
	r.Grant = func() (string, error) {
		x, err := b.grants(ctx, req.Storage, e.KeyID)
		if err != nil {
			return "", err
		}
		if g := x.Find(who, op, ec, access.Operations[op].Context); g != nil {
			return g.GrantID, nil
		}
		return "", nil
	}
	d, err := b.decide(ctx, e, r)
	if err != nil {
		return err
	}
	if d.Verdict != access.Allowed {
		return accessDenied(e, op, who)
	}
	return b.checkGrantTokens(ctx, req.Storage, tokens)
}

// evaluatePolicy asks key e's policy alone whether the caller may perform
// op, without logging (the lockout check asks of a policy not yet put).
func (b *backend) evaluatePolicy(ctx context.Context, req *logical.Request, e *keystore.Key, who *awspolicy.Caller, op string, ec map[string]string) (access.Verdict, string, error) {
	r, err := b.accessRequest(ctx, req, e, who, op, ec)
	if err != nil {
		return access.NoDecision, "", err
	}
	return access.PolicyVerdict(ctx, r)
}

// authorizeByPolicy admits the caller only if the key policy allows op:
// for operations where a grant on the key must not count, such as retiring
// a grant other than the caller's own. standing, if not nil, is the
// caller's standing on the grant, asked first (access.Request.Standing).
func (b *backend) authorizeByPolicy(ctx context.Context, req *logical.Request, e *keystore.Key, op string, standing func(*awspolicy.Caller) string) error {
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	r, err := b.accessRequest(ctx, req, e, who, op, nil)
	if err != nil {
		return err
	}
	if standing != nil {
		r.Standing = func() string { return standing(who) }
	}
	d, err := b.decide(ctx, e, r)
	if err != nil {
		return err
	}
	if d.Verdict != access.Allowed {
		return accessDenied(e, op, who)
	}
	return nil
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

func accessDenied(e *keystore.Key, op string, who *awspolicy.Caller) error {
	if e.KeyPolicy() == access.RefusedPolicy {
		return kmserr.New(kmserr.AccessDenied, "key '%s' has a stored policy the plugin no longer reads (such as the pre-release "+
			`{"statements": [...]} format): it denies every request until an operator replaces it through kms/policy-recovery/%s`, e.KeyID, e.KeyID)
	}
	return kmserr.New(kmserr.AccessDenied, "%s is not allowed to perform %s on key '%s'", who, op, e.KeyID)
}

// logDecision records who was allowed or refused what, and why. It never
// logs key material, plaintext or the encryption context's values.
func (b *backend) logDecision(e *keystore.Key, op string, who *awspolicy.Caller, verdict, by string) {
	if l := b.Logger(); l.IsDebug() {
		l.Debug("authorization", "key_id", e.KeyID, "operation", op, "principal", who.String(), "decision", verdict, "by", by)
	}
}

// checkLockout is AWS's policy lockout safety check: a policy that would
// not let the caller put the policy again is refused unless bypassed. e is
// the key, or for CreateKey a key entry not stored yet.
func (b *backend) checkLockout(ctx context.Context, req *logical.Request, p *awspolicy.Policy, e *keystore.Key, bypass bool) error {
	if bypass {
		return nil
	}
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	probe := *e
	probe.SetPolicy("-", p)
	v, _, err := b.evaluatePolicy(ctx, req, &probe, who, keyspec.OpPutKeyPolicy, nil)
	if err != nil {
		return err
	}
	if v != access.Allowed {
		return kmserr.New(kmserr.MalformedPolicy,
			"the new key policy will not allow %s to update the key policy in the future; set bypass_policy_lockout_safety_check to apply it anyway", who)
	}
	return nil
}
