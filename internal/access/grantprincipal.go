package access

import (
	"errors"
	"slices"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// A grant's grantee and retiring principal are stored in canonical form
// (awspolicy.Principal.Canonical), so two spellings of one identity are one
// principal: a grant written for 111122223333 lists, matches and is
// conditioned on as arn:aws:iam::111122223333:root, one written for
// group_id:<id> as the role ARN of that group's name. kms:GranteePrincipal
// and kms:RetiringPrincipal are answered in every spelling of that form, so
// a Deny written on one cannot be sidestepped by writing another.

// ResolvedPrincipal is a grant principal resolved at CreateGrant.
type ResolvedPrincipal struct {
	Canonical string
	Spellings []string
}

// ResolveGrantPrincipal reads a grantee or retiring principal (field
// names it in errors) and resolves it: an entity id to its entity's name
// through identity, a group id to its group's name through the caller's
// own groups (a plugin cannot look a group up by id). An id that does not
// resolve is refused rather than stored in a form no condition can name.
func ResolveGrantPrincipal(field, raw string, who *awspolicy.Caller, identity func(id string) (*awspolicy.Caller, error)) (ResolvedPrincipal, error) {
	if raw == "" {
		return ResolvedPrincipal{}, nil
	}
	p, err := awspolicy.ParsePrincipal(raw)
	if err != nil {
		return ResolvedPrincipal{}, kmserr.Validationf("%s: %s", field, err)
	}
	spellings := []string{raw}
	if id := p.EntityID(); id != "" {
		c, err := identity(id)
		if errors.Is(err, ErrEntityGone) {
			return ResolvedPrincipal{}, kmserr.Validationf("%s names an entity id that does not exist", field)
		}
		if err != nil {
			return ResolvedPrincipal{}, err
		}
		if c.EntityName == "" {
			return ResolvedPrincipal{Canonical: raw, Spellings: spellings}, nil
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
			return ResolvedPrincipal{}, kmserr.Validationf("%s: a group id resolves only through the caller's own groups; name the group instead (arn:<partition>:iam::<account>:role/<group name> or group:<name>)", field)
		}
		p = p.Named(name)
	}
	acct := who.Account
	canonical, _ := p.Canonical(acct)
	spellings = append(spellings, p.Spellings(acct)...)
	slices.Sort(spellings)
	return ResolvedPrincipal{Canonical: canonical, Spellings: slices.Compact(spellings)}, nil
}

// AddPolicySpellings adds to r every value the key policy compares key
// (kms:GranteePrincipal, kms:RetiringPrincipal) with that names r's
// identity in a spelling r lacks: a name in another case, or an id form
// (entity:<id> resolves through identity). A Deny written on
// arn:...:user/Mallory or entity:<id> then holds for a grantee written
// user/mallory.
func AddPolicySpellings(r *ResolvedPrincipal, p *awspolicy.Policy, key string, who *awspolicy.Caller, identity func(id string) (*awspolicy.Caller, error)) {
	if r.Canonical == "" || p == nil {
		return
	}
	for _, v := range p.ConditionValues(key) {
		if slices.Contains(r.Spellings, v) {
			continue
		}
		if o, err := ResolveGrantPrincipal("", v, who, identity); err == nil && o.Canonical == r.Canonical {
			r.Spellings = append(r.Spellings, v)
		}
	}
}

// CanonicalFilter is a principal given to filter a list (ListGrants'
// grantee, ListRetirableGrants' retiring principal) in the form grants
// store, or as given when it does not resolve (it then matches the grants
// stored in that spelling before grants were canonical, if any).
func CanonicalFilter(raw string, who *awspolicy.Caller, identity func(id string) (*awspolicy.Caller, error)) string {
	r, err := ResolveGrantPrincipal("filter", raw, who, identity)
	if err != nil || r.Canonical == "" {
		return raw
	}
	return r.Canonical
}
