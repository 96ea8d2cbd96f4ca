package awspolicy

import (
	"fmt"
	"regexp"
	"strings"
)

// Account is the mount's partition and account id: the "own account" of
// the principal mapping.
type Account struct {
	Partition string
	ID        string
}

// IAM is the ARN of an IAM resource of the account: "root", "user/<name>",
// "role/<name>".
func (a Account) IAM(resource string) string {
	return "arn:" + a.Partition + ":iam::" + a.ID + ":" + resource
}

// NoEntity names, in the Vault form, every token without an entity.
const NoEntity = "no_entity"

// Caller is a Vault identity as the evaluator sees it.
type Caller struct {
	EntityID   string
	EntityName string
	GroupNames []string
	GroupIDs   []string
	// Metadata is the entity's metadata, answered as aws:PrincipalTag/<k>.
	Metadata map[string]string
	// EntityLess is a token without an entity (an orphan or a root token:
	// Vault does not tell a plugin which). "*" in an Allow statement does
	// not admit it; the account, or {"Vault": "no_entity"}, does; every
	// Deny applies to it.
	EntityLess bool
}

// String names the caller for logs and errors.
func (c *Caller) String() string {
	if c.EntityID != "" {
		return "entity:" + c.EntityID
	}
	return "a token with no entity (" + NoEntity + ")"
}

type principalKind int

const (
	// kindNobody is a principal that is stored as given but matches no
	// Vault identity: another account, or an AWS service. It is the zero
	// value, so an unparsed Principal matches nobody.
	kindNobody principalKind = iota
	kindAnyone
	kindAccount
	kindUser
	kindRole
	kindEntity
	kindEntityName
	kindGroup
	kindGroupID
	kindNoEntity
)

// Principal is one parsed principal: "*", an IAM ARN, a bare account id,
// or a Vault identity (entity:<id>, entity_name:<n>, group:<n>,
// group_id:<id>).
type Principal struct {
	raw       string
	kind      principalKind
	value     string // name or id for the identity kinds
	partition string // for kindAccount
	account   string // for kindAccount, kindUser, kindRole
}

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// arn:<partition>:<iam|sts>::<account>:<resource>
	principalARNPattern = regexp.MustCompile(`^arn:(aws(?:-[a-z]+)*):(iam|sts)::([0-9]{12}):(.+)$`)
	iamNamePattern      = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
)

// ParsePrincipal validates one principal string as grants take them (their
// grantee_principal and retiring_principal): an IAM ARN or bare account id,
// or one of the Vault forms. "*" is not a principal here.
func ParsePrincipal(s string) (Principal, error) {
	if s == "*" || s == NoEntity {
		return Principal{}, fmt.Errorf("the principal %s is not allowed here: a grant names one identity", s)
	}
	if p, ok, err := parseVaultForm(s); ok {
		return p, err
	}
	return parseAWSPrincipal(s)
}

func parseVaultForm(s string) (Principal, bool, error) {
	if s == NoEntity {
		return Principal{raw: s, kind: kindNoEntity}, true, nil
	}
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return Principal{}, false, nil
	}
	k := map[string]principalKind{"entity": kindEntity, "entity_name": kindEntityName, "group": kindGroup, "group_id": kindGroupID}
	pk, known := k[kind]
	if !known {
		return Principal{}, false, nil
	}
	if value == "" {
		return Principal{}, true, fmt.Errorf("principal %q names no %s", s, kind)
	}
	return Principal{raw: s, kind: pk, value: value}, true, nil
}

// parseAWSPrincipal reads a value of Principal's "AWS" key.
func parseAWSPrincipal(s string) (Principal, error) {
	if s == "*" {
		return Principal{raw: s, kind: kindAnyone}, nil
	}
	if accountIDPattern.MatchString(s) {
		return Principal{raw: s, kind: kindAccount, account: s}, nil
	}
	bad := fmt.Errorf("principal %q must be *, a 12-digit account id, an IAM ARN (arn:<partition>:iam::<account>:root, :user/<name>, :role/<name>, arn:<partition>:sts::<account>:assumed-role/<role>/<session>) or entity:<id>, entity_name:<name>, group:<name>, group_id:<id>", s)
	m := principalARNPattern.FindStringSubmatch(s)
	if m == nil || strings.ContainsAny(s, "*?") {
		return Principal{}, bad
	}
	p := Principal{raw: s, partition: m[1], account: m[3]}
	service, resource := m[2], m[4]
	// IAM names may carry a path (user/division/alice): the name is the
	// last segment, as IAM's own ARNs put it.
	name := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(resource, prefix)
		if !ok {
			return "", false
		}
		n := rest[strings.LastIndex(rest, "/")+1:]
		return n, iamNamePattern.MatchString(n)
	}
	switch {
	case service == "iam" && resource == "root":
		p.kind = kindAccount
	case service == "iam" && strings.HasPrefix(resource, "user/"):
		n, ok := name("user/")
		if !ok {
			return Principal{}, bad
		}
		p.kind, p.value = kindUser, n
	case service == "iam" && strings.HasPrefix(resource, "role/"):
		n, ok := name("role/")
		if !ok {
			return Principal{}, bad
		}
		p.kind, p.value = kindRole, n
	case service == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		parts := strings.Split(strings.TrimPrefix(resource, "assumed-role/"), "/")
		if len(parts) != 2 || !iamNamePattern.MatchString(parts[0]) || parts[1] == "" {
			return Principal{}, bad
		}
		p.kind, p.value = kindRole, parts[0]
	default:
		return Principal{}, bad
	}
	return p, nil
}

// String is the principal as it was written.
func (p Principal) String() string { return p.raw }

// Key is the Vault identity the principal stands for when the mount's
// account is acct, in the Vault form ("entity_name:alice",
// "group:payments", ...), "*" for the wildcard and the own account's root,
// and "" when it matches nobody. It lets the root package index grants.
func (p Principal) Key(acct Account) string {
	switch p.kind {
	case kindAnyone:
		return "*"
	case kindAccount:
		if p.ownAccount(acct) {
			return "*"
		}
	case kindUser:
		if p.ownAccount(acct) {
			return "entity_name:" + p.value
		}
	case kindRole:
		if p.ownAccount(acct) {
			return "group:" + p.value
		}
	case kindEntity, kindEntityName, kindGroup, kindGroupID, kindNoEntity:
		return p.raw
	}
	return ""
}

// IndexKey is Key without the account check, for an index that is built
// once and checked with Matches on use: "*" for the wildcard and any
// account, the Vault form for users, roles and Vault principals, and the
// principal itself for the others.
func (p Principal) IndexKey() string {
	switch p.kind {
	case kindAnyone, kindAccount:
		return "*"
	case kindUser:
		return "entity_name:" + p.value
	case kindRole:
		return "group:" + p.value
	}
	return p.raw
}

func (p Principal) ownAccount(acct Account) bool {
	return p.account == acct.ID && (p.partition == "" || p.partition == acct.Partition)
}

// Matches reports whether the principal names the caller in an Allow
// statement or a grant: the wildcard does not admit an entity-less token.
func (p Principal) Matches(c *Caller, acct Account) bool {
	return p.matches(c, acct, false)
}

// matches applies the mapping table; broad is true for Deny statements,
// where the wildcard also catches entity-less tokens.
func (p Principal) matches(c *Caller, acct Account, broad bool) bool {
	switch p.kind {
	case kindAnyone:
		return broad || !c.EntityLess
	case kindAccount:
		// The account delegates to Vault's ACL, which admitted the caller.
		return p.ownAccount(acct)
	case kindNoEntity:
		return c.EntityLess
	case kindUser:
		return p.ownAccount(acct) && c.EntityID != "" && c.EntityName == p.value
	case kindRole:
		return p.ownAccount(acct) && c.EntityID != "" && contains(c.GroupNames, p.value)
	case kindEntity:
		return c.EntityID != "" && c.EntityID == p.value
	case kindEntityName:
		return c.EntityID != "" && c.EntityName == p.value
	case kindGroup:
		return c.EntityID != "" && contains(c.GroupNames, p.value)
	case kindGroupID:
		return c.EntityID != "" && contains(c.GroupIDs, p.value)
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
