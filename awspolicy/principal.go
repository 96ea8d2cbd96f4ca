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

func (p Principal) ownAccount(acct Account) bool {
	return p.account == acct.ID && (p.partition == "" || p.partition == acct.Partition)
}

// EntityID is the id of a principal written entity:<id>, else "".
func (p Principal) EntityID() string {
	if p.kind == kindEntity {
		return p.value
	}
	return ""
}

// GroupID is the id of a principal written group_id:<id>, else "".
func (p Principal) GroupID() string {
	if p.kind == kindGroupID {
		return p.value
	}
	return ""
}

// Named is the principal an id form (entity:<id>, group_id:<id>) stands
// for once its id is resolved to the entity's or group's name.
func (p Principal) Named(name string) Principal {
	switch p.kind {
	case kindEntity:
		return Principal{raw: "entity_name:" + name, kind: kindEntityName, value: name}
	case kindGroupID:
		return Principal{raw: "group:" + name, kind: kindGroup, value: name}
	}
	return p
}

// Canonical is the one spelling a grant stores for the principal, so that
// two spellings of one identity are one grantee: for the mount's account,
// its root ARN; for a user or an entity name, the user ARN of the name as
// Vault's identity store keys it (FoldName); for a role or a group name,
// the role ARN likewise (an assumed-role session is its role). A name that
// is not a valid IAM name keeps the Vault form (entity_name:, group:),
// folded. Another account's principal is kept as written, a bare account
// id as its root ARN. An id form has no canonical spelling until resolved
// (Named): ok is false.
func (p Principal) Canonical(acct Account) (s string, ok bool) {
	switch p.kind {
	case kindAccount:
		part := p.partition
		if part == "" {
			part = acct.Partition
		}
		return Account{Partition: part, ID: p.account}.IAM("root"), true
	case kindUser, kindRole:
		if !p.ownAccount(acct) {
			return p.raw, true
		}
	case kindEntity, kindGroupID:
		return "", false
	}
	switch p.kind {
	case kindUser, kindEntityName:
		return nameForm(acct, "user/", "entity_name:", p.value), true
	case kindRole, kindGroup:
		return nameForm(acct, "role/", "group:", p.value), true
	}
	return p.raw, true
}

func nameForm(acct Account, iam, vault, name string) string {
	name = FoldName(name)
	if iamNamePattern.MatchString(name) {
		return acct.IAM(iam + name)
	}
	return vault + name
}

// Spellings are the strings by which a policy may name the principal's
// identity: its canonical form, and its IAM ARN and Vault form with the
// name as written and folded (for the account, the bare account id). The
// caller adds the id form and the spelling as written, which only it knows.
func (p Principal) Spellings(acct Account) []string {
	c, ok := p.Canonical(acct)
	if !ok {
		return []string{p.raw}
	}
	out := []string{c}
	iam, vault := "", ""
	switch p.kind {
	case kindAccount:
		out = append(out, p.account)
	case kindUser, kindEntityName:
		iam, vault = "user/", "entity_name:"
	case kindRole, kindGroup:
		iam, vault = "role/", "group:"
	}
	if vault != "" && (p.kind == kindEntityName || p.kind == kindGroup || p.ownAccount(acct)) {
		for _, n := range []string{p.value, FoldName(p.value)} {
			out = append(out, vault+n, acct.IAM(iam+n))
		}
	}
	return out
}

// ParseVaultPrincipal reads a principal of the plugin's first policy
// format: "*", no_entity, or a Vault form.
func ParseVaultPrincipal(s string) (Principal, error) {
	if s == "*" {
		return Principal{raw: s, kind: kindAnyone}, nil
	}
	p, ok, err := parseVaultForm(s)
	if !ok {
		return Principal{}, fmt.Errorf("principal %q must be *, no_entity, entity:<id>, entity_name:<name>, group:<name> or group_id:<id>", s)
	}
	return p, err
}
