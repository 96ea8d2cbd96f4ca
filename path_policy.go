package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// policyRecoveryPrefix is the root-protected (sudo) path that replaces a
// key policy without asking the policy, so no key can be orphaned.
const policyRecoveryPrefix = "policy-recovery/"

func pathPolicy(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "keys/" + keyIDRef + "/policy$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "key-policy"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"policy": fieldPolicy, "bypass_policy_lockout_safety_check": fieldBypassLockout,
				"policy_name": {Type: framework.TypeString, Default: "default", Description: "Always default, as in AWS."},
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.pathPolicyRead, Summary: "Read the key policy (GetKeyPolicy).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathPolicyWrite, Summary: "Replace the key policy (PutKeyPolicy).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "write"}},
			},
			HelpSynopsis:    "Read or replace a key's policy.",
			HelpDescription: pathPolicyHelp,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/policies/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "key-policies"},
			Fields:       withKey(pagingFields),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathPolicyList, Summary: "List the key's policy names (ListKeyPolicies)."},
			},
			HelpSynopsis:    "List a key's policy names; there is one, default.",
			HelpDescription: pathPolicyHelp,
		},
		{
			Pattern:      policyRecoveryPrefix + "(?P<key_id>[^/]+)$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "recover", OperationSuffix: "key-policy"},
			Fields:       map[string]*framework.FieldSchema{"key_id": {Type: framework.TypeString, Required: true, Description: "Key id."}, "policy": fieldPolicy},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathPolicyRecover,
					Summary: "Replace a key policy without the policy's consent (needs sudo)."},
			},
			HelpSynopsis:    "Recover a key whose policy locks everyone out (sudo).",
			HelpDescription: pathPolicyHelp,
		},
	}
}

func (b *backend) pathPolicyRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpGetKeyPolicy, nil, nil); err != nil {
		return nil, err
	}
	if d.Get("policy_name").(string) != "default" {
		return nil, kmserr.NotFoundf("key '%s' has only the policy named default", e.KeyID)
	}
	doc := e.Policy
	if doc == "" {
		cfg, err := b.config(ctx, req.Storage)
		if err != nil {
			return nil, err
		}
		doc = access.DefaultPolicyText(cfg.account())
	}
	return &logical.Response{Data: map[string]any{"key_id": e.KeyID, "policy_name": "default", "policy": doc}}, nil
}

func (b *backend) pathPolicyList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpListKeyPolicies, nil, nil); err != nil {
		return nil, err
	}
	// A key has one policy, default; paging still follows AWS (a Limit or
	// a Marker past it is honoured, not ignored).
	names, next, err := page([]string{"default"}, d)
	if err != nil {
		return nil, err
	}
	return listResponse(names, nil, next), nil
}

func (b *backend) pathPolicyWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	bypass := d.Get("bypass_policy_lockout_safety_check").(bool)
	ctx = withAttrs(ctx, func(a *requestAttrs) { a.BypassLockout = &bypass })
	var doc string
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpPutKeyPolicy, func(e *keystore.Key) error {
		// The document is read only once the caller may put a policy:
		// its format errors and limits are no one else's to learn.
		var p *awspolicy.Policy
		var err error
		if doc, p, err = readPolicy(d); err != nil {
			return err
		}
		if err := b.checkLockout(ctx, req, p, e, bypass); err != nil {
			return err
		}
		e.SetPolicy(doc, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"key_id": e.KeyID, "policy_name": "default", "policy": doc}}, nil
}

// pathPolicyRecover bypasses the key policy: Vault has already required
// sudo on this path (PathsSpecial.Root).
func (b *backend) pathPolicyRecover(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	doc, p, err := readPolicy(d)
	if err != nil {
		return nil, err
	}
	e, unlock, err := b.lockedKey(ctx, req.Storage, d.Get("key_id").(string))
	if err != nil {
		return nil, err
	}
	defer unlock()
	c := e.Clone()
	c.SetPolicy(doc, p)
	if err := b.keys.Put(ctx, req.Storage, c); err != nil {
		return nil, err
	}
	b.Logger().Warn("key policy replaced through the sudo recovery path", "key_id", c.KeyID, "principal", req.EntityID)
	return &logical.Response{Data: map[string]any{"key_id": c.KeyID, "policy_name": "default", "policy": doc}}, nil
}

func readPolicy(d *framework.FieldData) (string, *awspolicy.Policy, error) {
	doc := d.Get("policy").(string)
	if doc == "" {
		return "", nil, kmserr.Validationf("policy is required")
	}
	p, err := access.ParsePolicy(doc)
	return doc, p, err
}

const pathPolicyHelp = `
Every key has one policy, named default: an AWS key policy document
(Version, Statement with Sid, Effect, Principal/NotPrincipal,
Action/NotAction, Resource/NotResource, Condition), stored and returned as
given. IAM principals name Vault identities: the mount's account root (or
account id) is every caller Vault's ACL admits, tokens without an entity
included; user/<name> the entity named <name>, role/<name> and
assumed-role/<name>/... the members of the group <name>; "*" in an Allow
statement callers with an entity. {"Vault": ["entity:<id>",
"entity_name:<n>", "group:<n>", "group_id:<id>", "no_entity"]} names them
directly. Conditions use IAM's operators and the kms: and aws: keys the
plugin can answer. Deny wins; otherwise an Allow statement or an active
grant admits the caller. A key without a policy has AWS's default policy,
which delegates to Vault's ACL. A new policy that would lock the caller out
of PutKeyPolicy is refused unless bypass_policy_lockout_safety_check is set;
an operator with sudo on policy-recovery/<key id> can always replace it.
A stored policy that no longer parses (such as one in the plugin's
pre-release {"statements": [...]} format) denies everything until it is
replaced there.
`
