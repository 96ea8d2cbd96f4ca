package awspolicy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Caller is the canonical principal of one request: who the caller is,
// resolved once from the token (its entity, the entity's name, groups and
// metadata) and the mount's account. Every consumer (key policy
// statements, NotPrincipal, grants, kms:GranteePrincipal,
// aws:PrincipalArn, aws:username) decides with Principal.Names.
type Caller struct {
	EntityID   string
	EntityName string
	GroupNames []string
	GroupIDs   []string
	// Metadata is the entity's metadata, answered as aws:PrincipalTag/<k>.
	Metadata map[string]string
	// Account is the mount's partition and account id: the account every
	// caller belongs to.
	Account Account
	// EntityLess is a token without an entity (an orphan or a root token:
	// Vault does not tell a plugin which). A caller with no entity id is
	// entity-less whatever this says.
	EntityLess bool
}

// String names the caller for logs and errors.
func (c *Caller) String() string {
	if !c.entityLess() {
		return "entity:" + c.EntityID
	}
	return "a token with no entity (" + NoEntity + ")"
}

func (c *Caller) entityLess() bool {
	return c == nil || c.EntityLess || c.EntityID == ""
}

// SameName compares entity or group names as Vault's identity store does:
// it keys names by strings.ToLower (vault/identity_store_util.go,
// sanitizeName; memdb's Lowercase string index), so "Mallory" and
// "mallory" are one entity and the second cannot be created.
// It compares rune by rune without allocating; strings.ToLower maps each
// rune (an invalid byte as utf8.RuneError) with unicode.ToLower, as here.
func SameName(a, b string) bool {
	if a == b {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && unicode.ToLower(ra) != unicode.ToLower(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// FoldName is a name in the form Vault's identity store keys it by.
func FoldName(n string) string { return strings.ToLower(n) }

// Use is where a principal element stands, which decides what it names.
type Use int

const (
	// UseAllow: the Principal of an Allow statement, a grant's grantee or
	// retiring principal.
	UseAllow Use = iota
	// UseDeny: the Principal of a Deny statement.
	UseDeny
	// UseException: a principal listed in a NotPrincipal element, which
	// exempts the principals it names from the statement.
	UseException
)

// Names is the one rule deciding whether principal p, standing where use
// says, names caller c:
//
//   - "*": every caller with an entity; in a Deny, every caller.
//   - the own account (root ARN or bare id): every caller Vault's ACL
//     admitted, since the account delegates to it; as a NotPrincipal
//     exception, only the account principal itself, which no Vault caller
//     is (the root token cannot be told from an orphan token).
//   - a user, role, entity or group: that entity, or the group's members,
//     names compared as Vault does (SameName). A caller without an entity
//     could be any person, so a Deny naming a person names it too.
//   - no_entity: every caller without an entity.
//   - another account's principal or a service: nobody.
func (p Principal) Names(c *Caller, use Use) bool {
	if c == nil {
		c = &Caller{EntityLess: true}
	}
	switch p.kind {
	case kindAnyone:
		return use == UseDeny || !c.entityLess()
	case kindAccount:
		return use != UseException && p.ownAccount(c.Account)
	case kindNoEntity:
		return c.entityLess()
	case kindNobody:
		return false
	case kindUser, kindRole:
		if !p.ownAccount(c.Account) {
			return false
		}
	}
	if c.entityLess() {
		return use == UseDeny
	}
	switch p.kind {
	case kindUser, kindEntityName:
		return c.EntityName != "" && SameName(c.EntityName, p.value)
	case kindRole, kindGroup:
		for _, g := range c.GroupNames {
			if SameName(g, p.value) {
				return true
			}
		}
	case kindEntity:
		return c.EntityID == p.value
	case kindGroupID:
		return contains(c.GroupIDs, p.value)
	}
	return false
}

// identityKeys are the condition keys whose values name a person; for a
// caller without an entity they are absent, and so unknown.
var identityKeys = []string{"aws:username", "aws:principalarn", "aws:userid", "aws:principaltag/"}

// couldBeNamedPerson extends the entity-less rule of Names to conditions:
// a Deny statement whose conditions name a person by value
// (StringEquals aws:username "mallory", ArnLike aws:PrincipalArn ...,
// aws:PrincipalTag/<k>) applies to a caller without an entity, which could
// be that person, when its other conditions hold. Null conditions test
// presence, which is known, and are evaluated as written.
func (s *Statement) couldBeNamedPerson(r *Request, vars bool) bool {
	if !r.Caller.entityLess() {
		return false
	}
	named := false
	for _, c := range s.conditions {
		if !c.null && isIdentityKey(c.key) {
			named = true
			continue
		}
		if !c.eval(r.Keys, vars) {
			return false
		}
	}
	return named
}

func isIdentityKey(key string) bool {
	for _, k := range identityKeys {
		if key == k || strings.HasSuffix(k, "/") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// IndexKeys are the keys under which a grant index (built with
// Principal.IndexKey) files every grantee that may name the caller; each
// candidate is then checked with Names.
func (c *Caller) IndexKeys() []string {
	if c.entityLess() {
		return []string{"*", NoEntity}
	}
	keys := make([]string, 0, 3+2*len(c.GroupNames))
	keys = append(keys, "*", "entity:"+c.EntityID)
	if c.EntityName != "" {
		keys = append(keys, "entity_name:"+FoldName(c.EntityName))
	}
	for _, g := range c.GroupNames {
		keys = append(keys, "group:"+FoldName(g))
	}
	for _, id := range c.GroupIDs {
		keys = append(keys, "group_id:"+id)
	}
	return keys
}

// IndexKey is the key a grant index files the principal under (see
// Caller.IndexKeys): "*" for the wildcard and any account, the folded
// Vault form for users, roles and Vault principals, and the principal
// itself for the others.
func (p Principal) IndexKey() string {
	switch p.kind {
	case kindAnyone, kindAccount:
		return "*"
	case kindUser, kindEntityName:
		return "entity_name:" + FoldName(p.value)
	case kindRole, kindGroup:
		return "group:" + FoldName(p.value)
	}
	return p.raw
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
