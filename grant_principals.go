package kms

import (
	"errors"
	"slices"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// A grant's grantee and retiring principal are stored in canonical form
// (awspolicy.Principal.Canonical), so two spellings of one identity are one
// principal: a grant written for 111122223333 lists, matches and is
// conditioned on as arn:aws:iam::111122223333:root, one written for
// group_id:<id> as the role ARN of that group's name. kms:GranteePrincipal
// and kms:RetiringPrincipal are answered in every spelling of that form, so
// a Deny written on one cannot be sidestepped by writing another.

// resolvedPrincipal is a grant principal resolved at CreateGrant.
type resolvedPrincipal struct {
	canonical string
	spellings []string
}

// resolveGrantPrincipal reads a grantee or retiring principal (field names
// it in errors) and resolves it: an entity id to its entity's name through
// the identity store, a group id to its group's name through the caller's
// own groups (a plugin cannot look a group up by id). An id that does not
// resolve is refused rather than stored in a form no condition can name.
func (b *backend) resolveGrantPrincipal(field, raw string, who *awspolicy.Caller) (resolvedPrincipal, error) {
	if raw == "" {
		return resolvedPrincipal{}, nil
	}
	p, err := awspolicy.ParsePrincipal(raw)
	if err != nil {
		return resolvedPrincipal{}, kmserr.Validationf("%s: %s", field, err)
	}
	spellings := []string{raw}
	if id := p.EntityID(); id != "" {
		c, err := b.cachedIdentity(id)
		if errors.Is(err, access.ErrEntityGone) {
			return resolvedPrincipal{}, kmserr.Validationf("%s names an entity id that does not exist", field)
		}
		if err != nil {
			return resolvedPrincipal{}, err
		}
		if c.EntityName == "" {
			return resolvedPrincipal{canonical: raw, spellings: spellings}, nil
		}
		p = p.Named(c.EntityName)
	} else if id := p.GroupID(); id != "" {
		name := ""
		for i, gid := range who.GroupIDs {
			if gid == id && i < len(who.GroupNames) {
				name = who.GroupNames[i]
			}
		}
		if name == "" {
			return resolvedPrincipal{}, kmserr.Validationf("%s: a group id resolves only through the caller's own groups; name the group instead (arn:<partition>:iam::<account>:role/<group name> or group:<name>)", field)
		}
		p = p.Named(name)
	}
	acct := who.Account
	canonical, _ := p.Canonical(acct)
	spellings = append(spellings, p.Spellings(acct)...)
	slices.Sort(spellings)
	return resolvedPrincipal{canonical: canonical, spellings: slices.Compact(spellings)}, nil
}

// addPolicySpellings adds to r every value the key policy compares key
// (kms:GranteePrincipal, kms:RetiringPrincipal) with that names r's
// identity in a spelling r lacks: a name in another case, or an id form
// (entity:<id> resolves through the identity store). A Deny written on
// arn:...:user/Mallory or entity:<id> then holds for a grantee written
// user/mallory.
func (b *backend) addPolicySpellings(r *resolvedPrincipal, p *awspolicy.Policy, key string, who *awspolicy.Caller) {
	if r.canonical == "" || p == nil {
		return
	}
	for _, v := range p.ConditionValues(key) {
		if slices.Contains(r.spellings, v) {
			continue
		}
		if o, err := b.resolveGrantPrincipal("", v, who); err == nil && o.canonical == r.canonical {
			r.spellings = append(r.spellings, v)
		}
	}
}

// canonicalFilter is a principal given to filter a list (ListGrants'
// grantee, ListRetirableGrants' retiring principal) in the form grants
// store, or as given when it does not resolve (it then matches the grants
// stored in that spelling before grants were canonical, if any).
func (b *backend) canonicalFilter(raw string, who *awspolicy.Caller) string {
	r, err := b.resolveGrantPrincipal("filter", raw, who)
	if err != nil || r.canonical == "" {
		return raw
	}
	return r.canonical
}
