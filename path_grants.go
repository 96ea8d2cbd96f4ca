package kms

import (
	"context"
	"encoding/hex"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathKeyGrants(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "keys/" + keyIDRef + "/grants/(?P<grant_id>[^/]+)$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "grant"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"grant_id": {Type: framework.TypeString, Required: true, Description: "Grant id."},
				"dry_run":  fieldDryRun,
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.DeleteOperation: &framework.PathOperation{Callback: dryRunnable(b.pathGrantRevoke), Summary: "Revoke a grant (RevokeGrant).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "revoke"}},
			},
			HelpSynopsis:    "Revoke a grant.",
			HelpDescription: pathGrantsHelp,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/grants/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "grants"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"grantee_principal":         {Type: framework.TypeString, Description: "Who the grant is for: an IAM ARN (arn:aws:iam::<account>:user/<entity name>, :role/<group name>, :root) or entity:<id>, entity_name:<name>, group:<name>, group_id:<id>. Filters the list when listing."},
				"retiring_principal":        {Type: framework.TypeString, Description: "Who may retire the grant (same forms as grantee_principal)."},
				"operations":                {Type: framework.TypeCommaStringSlice, Description: "AWS operation names the grant allows."},
				"encryption_context_equals": {Type: framework.TypeKVPairs, Description: "Constraint: the request's encryption context must equal this."},
				"encryption_context_subset": {Type: framework.TypeKVPairs, Description: "Constraint: the request's encryption context must contain these pairs."},
				"name":                      {Type: framework.TypeString, Description: "Grant name; the same name and parameters return the same grant."},
				"grant_tokens":              fieldGrantTokens,
				"dry_run":                   fieldDryRun,
				"grant_id":                  {Type: framework.TypeString, Query: true, Description: "Only this grant (when listing)."},
				"limit":                     fieldLimit,
				"after":                     fieldAfter,
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: dryRunnable(b.pathGrantCreate), Summary: "Create a grant (CreateGrant).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "create", OperationSuffix: "grant"}},
				logical.ListOperation: &framework.PathOperation{Callback: b.pathGrantList, Summary: "List a key's grants (ListGrants).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list"}},
			},
			HelpSynopsis:    "Create and list a key's grants.",
			HelpDescription: pathGrantsHelp,
		},
	}
}

func pathGrants(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "grants/retire$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "retire", OperationSuffix: "grant"},
			Fields: map[string]*framework.FieldSchema{
				"grant_token": {Type: framework.TypeString, Description: "The grant's token; or give key_id and grant_id."},
				"key_id":      {Type: framework.TypeString, Description: "Key id or ARN of the grant."},
				"grant_id":    {Type: framework.TypeString, Description: "Grant id."},
				"dry_run":     fieldDryRun,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: dryRunnable(b.pathGrantRetire), Summary: "Retire a grant (RetireGrant)."},
			},
			HelpSynopsis:    "Retire a grant.",
			HelpDescription: pathGrantsHelp,
		},
		{
			Pattern:      "grants/retirable/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "list", OperationSuffix: "retirable-grants"},
			Fields: map[string]*framework.FieldSchema{
				"retiring_principal": {Type: framework.TypeString, Query: true, Required: true, Description: "The retiring principal."},
				"limit":              fieldLimit,
				"after":              fieldAfter,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathGrantListRetirable, Summary: "List grants a principal may retire (ListRetirableGrants)."},
			},
			HelpSynopsis:    "List the grants a principal may retire.",
			HelpDescription: pathGrantsHelp,
		},
	}
}

// grantRequest reads CreateGrant's fields into a validated grant.
func grantRequest(d *framework.FieldData) (*grantEntry, error) {
	return access.NewGrant(access.GrantParams{
		Grantee:  d.Get("grantee_principal").(string),
		Retiring: d.Get("retiring_principal").(string),
		Ops:      d.Get("operations").([]string),
		Name:     d.Get("name").(string),
		Equals:   d.Get("encryption_context_equals").(map[string]string),
		Subset:   d.Get("encryption_context_subset").(map[string]string),
	})
}

func (b *backend) pathGrantCreate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The grant's parameters feed its authorization (a grantee may only
	// delegate less than its own grant), so they are read first; a caller
	// not allowed CreateGrant learns nothing from their errors.
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpCreateGrant, err)
	}
	g, err := grantRequest(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpCreateGrant, err)
	}
	e, unlock, err := b.lockedKey(ctx, req.Storage, d.Get("key_id").(string))
	if err != nil {
		return nil, err
	}
	defer unlock()
	x, err := b.lockedGrants(ctx, req.Storage, e.KeyID)
	if err != nil {
		return nil, err
	}
	if err := b.authorizeCreateGrant(ctx, req, e, x, g); err != nil {
		return nil, err
	}
	// Grant tokens once the caller is admitted, as in authorize.
	if err := b.checkGrantTokens(ctx, req.Storage, tokens); err != nil {
		return nil, err
	}
	// Only now what the key is: its spec and usage are the caller's to see.
	if err := g.FitsKey(e.KeyID, e.Spec(), e.KeyUsage); err != nil {
		return nil, err
	}
	if err := keystore.CheckState(e, keyspec.OpCreateGrant); err != nil {
		return nil, err
	}
	if g.Name != "" {
		for _, old := range x.All() {
			if old.Name == g.Name && old.SameParameters(g) {
				return b.grantCreated(ctx, req.Storage, old)
			}
		}
	}
	if x.Count() >= access.MaxGrantsPerKey {
		return nil, kmserr.New(kmserr.LimitExceeded, "key '%s' already has %d grants", e.KeyID, access.MaxGrantsPerKey)
	}
	id := make([]byte, 32)
	if _, err := io.ReadFull(b.random, id); err != nil {
		return nil, err
	}
	who, err := b.caller(ctx, req)
	if err != nil {
		return nil, err
	}
	g.GrantID, g.KeyID, g.IssuingPrincipal, g.CreationDate = hex.EncodeToString(id), e.KeyID, who.String(), b.now().UTC()
	if err := awsapi.DryRunStop(ctx); err != nil {
		return nil, err
	}
	if err := b.putGrant(ctx, req.Storage, x, g); err != nil {
		return nil, err
	}
	return b.grantCreated(ctx, req.Storage, g)
}

func (b *backend) grantCreated(ctx context.Context, s logical.Storage, g *grantEntry) (*logical.Response, error) {
	token, err := b.grantToken(ctx, s, g)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"grant_id": g.GrantID, "grant_token": token, "key_id": g.KeyID}}, nil
}

// authorizeCreateGrant: the key policy may allow CreateGrant outright; a
// grant that includes CreateGrant lets its grantee create grants for the
// same or fewer operations under constraints at least as strict. It first
// puts g's principals in canonical form (resolveGrantPrincipal), so the
// policy sees every spelling of them and the grant stores one.
func (b *backend) authorizeCreateGrant(ctx context.Context, req *logical.Request, e *keystore.Key, x *grantIndex, g *grantEntry) error {
	who, err := b.caller(ctx, req)
	if err != nil {
		return err
	}
	grantee, err := b.grantPrincipal(ctx, req, e, who, "grantee_principal", g.GranteePrincipal)
	if err != nil {
		return err
	}
	retiring, err := b.grantPrincipal(ctx, req, e, who, "retiring_principal", g.RetiringPrincipal)
	if err != nil {
		return err
	}
	g.GranteePrincipal, g.RetiringPrincipal = grantee.Canonical, retiring.Canonical
	access.AddPolicySpellings(&grantee, e.KeyPolicy(), "kms:GranteePrincipal", who, b.cachedIdentity)
	access.AddPolicySpellings(&retiring, e.KeyPolicy(), "kms:RetiringPrincipal", who, b.cachedIdentity)
	ctx = withAttrs(ctx, func(a *requestAttrs) {
		a.GrantOperations = g.Operations
		a.GranteePrincipal, a.RetiringPrincipal = grantee.Spellings, retiring.Spellings
		a.GrantConstraintType = g.Constraints.Type()
	})
	r, err := b.accessRequest(ctx, req, e, who, keyspec.OpCreateGrant, g.Constraints.Context())
	if err != nil {
		return err
	}
	r.Grant = func() (string, error) { return x.ParentGrant(who, g), nil }
	d, err := b.decide(ctx, e, r)
	switch {
	case err != nil:
		return err
	case d.Verdict == access.Allowed:
		return nil
	case d.Statement != "":
		return accessDenied(e, keyspec.OpCreateGrant, who)
	}
	return kmserr.New(kmserr.AccessDenied, "%s is not allowed to create this grant on key '%s': CreateGrant is not allowed, or the grant would be wider than the caller's own", who, e.KeyID)
}

// grantPrincipal resolves one of CreateGrant's principals. Resolving asks
// the identity store, so its refusal ("names an entity id that does not
// exist") is for a caller the key allows CreateGrant only (refuseInvalid):
// whether an entity id exists is not for others to learn.
func (b *backend) grantPrincipal(ctx context.Context, req *logical.Request, e *keystore.Key, who *awspolicy.Caller, field, raw string) (access.ResolvedPrincipal, error) {
	r, err := access.ResolveGrantPrincipal(field, raw, who, b.cachedIdentity)
	if err != nil {
		if denied := b.authorize(ctx, req, e, keyspec.OpCreateGrant, nil, nil); denied != nil {
			return r, denied
		}
	}
	return r, err
}

func (b *backend) pathGrantList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpListGrants, nil, nil); err != nil {
		return nil, err
	}
	x, err := b.grants(ctx, req.Storage, e.KeyID)
	if err != nil {
		return nil, err
	}
	id, grantee := d.Get("grant_id").(string), d.Get("grantee_principal").(string)
	if id != "" {
		if err := keystore.CheckGrantID(id); err != nil {
			return nil, err
		}
	}
	canonical := grantee
	if grantee != "" {
		who, err := b.caller(ctx, req)
		if err != nil {
			return nil, err
		}
		canonical = access.CanonicalFilter(grantee, who, b.cachedIdentity)
	}
	// A grant made before grants were canonical holds the spelling given.
	return b.grantList(x.All(), d, func(g *grantEntry) bool {
		return (id == "" || g.GrantID == id) && (grantee == "" || g.GranteePrincipal == canonical || g.GranteePrincipal == grantee)
	})
}

func (b *backend) grantList(all []*grantEntry, d *framework.FieldData, keep func(*grantEntry) bool) (*logical.Response, error) {
	byID := map[string]*grantEntry{}
	var ids []string
	for _, g := range all {
		if keep(g) {
			byID[g.GrantID] = g
			ids = append(ids, g.GrantID)
		}
	}
	sort.Strings(ids)
	names, next, err := page(ids, d)
	if err != nil {
		return nil, err
	}
	info := make(map[string]any, len(names))
	for _, id := range names {
		info[id] = grantData(byID[id])
	}
	return listResponse(names, info, next), nil
}

func grantData(g *grantEntry) map[string]any {
	data := map[string]any{
		"grant_id": g.GrantID, "key_id": g.KeyID, "name": g.Name, "grantee_principal": g.GranteePrincipal,
		"retiring_principal": g.RetiringPrincipal, "issuing_principal": g.IssuingPrincipal,
		"operations": g.Operations, "creation_date": g.CreationDate.Format(time.RFC3339),
	}
	if c := g.Constraints; c != nil {
		constraints := map[string]any{}
		if len(c.Equals) > 0 {
			constraints["encryption_context_equals"] = c.Equals
		}
		if len(c.Subset) > 0 {
			constraints["encryption_context_subset"] = c.Subset
		}
		data["constraints"] = constraints
	}
	return data
}

// pathGrantListRetirable reads the retiring principal's grants from the
// retiring index, never other keys' grants.
func (b *backend) pathGrantListRetirable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	raw := d.Get("retiring_principal").(string)
	if _, err := awspolicy.ParsePrincipal(raw); err != nil {
		return nil, kmserr.Validationf("retiring_principal: %s", err)
	}
	caller, err := b.caller(ctx, req)
	if err != nil {
		return nil, err
	}
	// Grants store the canonical form; grants made before that, the
	// spelling as written.
	var all []*grantEntry
	for _, p := range slices.Compact([]string{access.CanonicalFilter(raw, caller, b.cachedIdentity), raw}) {
		some, err := b.retirableGrants(ctx, req.Storage, p)
		if err != nil {
			return nil, err
		}
		all = append(all, some...)
	}
	return b.grantList(all, d, func(*grantEntry) bool { return true })
}

func (b *backend) pathGrantRetire(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keyRef, grantID := d.Get("key_id").(string), d.Get("grant_id").(string)
	if token := d.Get("grant_token").(string); token != "" {
		k, g, err := b.parseGrantToken(ctx, req.Storage, token)
		if err != nil {
			return nil, err
		}
		keyRef, grantID = k, g
	} else if keyRef == "" || grantID == "" {
		return nil, kmserr.Validationf("give grant_token, or key_id and grant_id")
	}
	return nil, b.removeGrant(ctx, req, keyRef, grantID, keyspec.OpRetireGrant)
}

func (b *backend) pathGrantRevoke(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, b.removeGrant(ctx, req, d.Get("key_id").(string), d.Get("grant_id").(string), keyspec.OpRevokeGrant)
}

// removeGrant retires or revokes a grant. Retiring is allowed to the
// grant's retiring principal, to its grantee when that same grant includes
// RetireGrant, and by the key policy; revoking only by the key policy. Some
// other grant including RetireGrant does not count: it would let any such
// grantee retire every grant on the key.
func (b *backend) removeGrant(ctx context.Context, req *logical.Request, ref, grantID, op string) error {
	if err := keystore.CheckGrantID(grantID); err != nil {
		return b.refuseInvalid(ctx, req, ref, false, op, err)
	}
	e, unlock, err := b.lockedKey(ctx, req.Storage, ref)
	if err != nil {
		return err
	}
	defer unlock()
	x, err := b.lockedGrants(ctx, req.Storage, e.KeyID)
	if err != nil {
		return err
	}
	g := x.Get(grantID)
	if g == nil {
		// Whether a grant exists is for those who may remove grants.
		if err := b.authorizeByPolicy(ctx, req, e, op, nil); err != nil {
			return err
		}
		return kmserr.NotFoundf("grant '%s' does not exist on key '%s'", grantID, e.KeyID)
	}
	var standing func(*awspolicy.Caller) string
	if op == keyspec.OpRetireGrant {
		standing = g.RetireStanding
	}
	if err := b.authorizeByPolicy(ctx, req, e, op, standing); err != nil {
		return err
	}
	if err := awsapi.DryRunStop(ctx); err != nil {
		return err
	}
	return b.deleteGrant(ctx, req.Storage, x, g)
}

const pathGrantsHelp = `
Grants give a principal (an IAM ARN mapped as in key policies, or
entity:<id>, entity_name:<name>, group:<name>, group_id:<id>) some operations on one key, as AWS KMS grants do, on top of
the key policy. Create one by writing keys/<key>/grants with
grantee_principal and operations (and optionally retiring_principal, an
encryption-context constraint, name); it works on the very next request,
on every node. List them with LIST keys/<key>/grants; revoke with DELETE
keys/<key>/grants/<grant_id>; retire with grants/retire (grant_token, or
key_id and grant_id); list a principal's retirable grants with LIST
grants/retirable?retiring_principal=... A grant that includes CreateGrant
lets its grantee create grants for the same or fewer operations, under
constraints at least as strict (more pairs, or subset made equals).
Principals are stored and listed in canonical form (an IAM ARN).
`
