// Package awspolicy parses AWS KMS key policy documents and evaluates them
// against Vault identities.
//
// A policy is AWS's JSON: Version (2012-10-17, or 2008-10-17), Id, and
// Statement (one statement or a list), each with Sid, Effect,
// Principal or NotPrincipal, Action or NotAction (kms:Encrypt, kms:*,
// kms:Describe*; action names compare without case), Resource or
// NotResource (* or the key's ARN, with wildcards), and Condition.
// Anything else is an *Error naming the element.
//
// Principals map to Vault identities (Principal.Names is the one rule);
// "own account" is the mount's partition and account id:
//
//	Principal                                          Vault caller it names
//	arn:<partition>:iam::<account>:root, <account>     every caller Vault's ACL admits (own account only),
//	                                                   tokens without an entity included; in NotPrincipal,
//	                                                   only the account principal itself: no Vault caller
//	"*", {"AWS": "*"}                                  in Allow: every caller with an entity; in Deny: every caller
//	arn:<partition>:iam::<account>:user/<name>         the entity named <name>
//	arn:<partition>:iam::<account>:role/<name>         members of the group named <name>
//	arn:<partition>:sts::<account>:assumed-role/<role>/<session>
//	                                                   members of the group named <role>
//	a principal of another account, {"Service": ...}   nobody (kept as written)
//	{"Vault": "entity:<id>"}, "entity_name:<name>",
//	"group:<name>", "group_id:<id>"                    that entity or group's members
//	{"Vault": "no_entity"}                             every token without an entity
//
// Names compare as Vault's identity store keys them (lower-cased). A token
// without an entity (orphan and root tokens alike: Vault does not tell a
// plugin which) is thus allowed only where the account or no_entity is
// named, while every Deny statement naming "*", the account, a user, a
// role, an entity or a group applies to it: it could be that person.
//
// Conditions follow IAM's rules: operators are ANDed, keys under an
// operator are ANDed, a key's policy values are ORed (NORed for a negated
// operator such as StringNotEquals). Condition key names compare without
// case. On a key absent from the request:
//
//	operator                                absent key
//	StringEquals, ArnLike, ... (positive)   false
//	StringNotEquals, ... (negated)          true
//	...IfExists (no set operator)           true
//	ForAllValues:... (IfExists or not)      true
//	ForAnyValue:... (IfExists or not)       false
//	Null "true" / "false"                   true / false
//
// Multivalued keys (kms:EncryptionContextKeys, kms:GrantOperations,
// kms:ResourceAliases, aws:TagKeys, ...) need ForAnyValue: or
// ForAllValues:; a bare operator on one is refused at parse. A set
// operator on a single-valued key reads its value as a set of one.
//
// Policy variables (${aws:username}, ${aws:PrincipalTag/team, 'none'})
// are substituted in condition values and in Resource and NotResource
// alike, in 2012-10-17 policies. Resource values match the key's ARN
// segment by segment, a wildcard never spanning a ":"; a wildcard in the
// service segment is refused. Every action of AWS KMS is a valid Action
// (those the plugin lacks match nothing); others are refused. Wildcard
// matching never backtracks, and a policy's condition patterns have a
// cost budget (MaxPatternCost). A member given twice in any object is
// refused.
package awspolicy

import "strings"

// Request is what a statement is matched against.
type Request struct {
	Caller *Caller
	// Action is the operation, with or without "kms:" (Encrypt, kms:Encrypt).
	Action string
	// Resource is the key's ARN.
	Resource string
	// Account is the mount's partition and account id.
	Account Account
	// Keys are the condition keys the caller can answer.
	Keys Keys

	// reads holds Keys' values read for comparison, once per evaluation.
	reads *requestReads
}

// Decision is the outcome of a policy evaluation.
type Decision int

const (
	// NoDecision: no statement matched; grants may still allow.
	NoDecision Decision = iota
	Allow
	// Deny is an explicit Deny: it wins over any Allow and any grant.
	Deny
)

func (d Decision) String() string {
	return [...]string{"no decision", "allow", "deny"}[d]
}

// Evaluate applies the policy: Deny if a Deny statement matches, else
// Allow if an Allow statement matches, else NoDecision. by names the
// deciding statement (its Sid, or "statement <i>").
func (p *Policy) Evaluate(r *Request) (d Decision, by string) {
	action := strings.ToLower(r.Action)
	if !strings.HasPrefix(action, "kms:") {
		action = "kms:" + action
	}
	if r.Keys == nil {
		r.Keys = Keys{}
	}
	if c := r.Caller; c == nil || c.Account == (Account{}) {
		// The caller's account is the request's when the caller does not
		// say (and a missing caller is a token without an entity).
		cc := Caller{EntityLess: true}
		if c != nil {
			cc = *c
		}
		cc.Account = r.Account
		rr := *r
		rr.Caller = &cc
		r = &rr
	}
	vars := p.Version == Version2012
	// Every statement reads a request value once (requestReads), however
	// many conditions compare it.
	once := *r
	once.reads = &requestReads{}
	r = &once
	for _, s := range p.Statements {
		deny := s.Effect == effectDeny
		if (d == Allow && !deny) || !s.matches(r, action, deny, vars) {
			continue
		}
		if deny {
			return Deny, s.Name()
		}
		d, by = Allow, s.Name()
	}
	return d, by
}

func (s *Statement) matches(r *Request, action string, deny, vars bool) bool {
	return s.matchesPrincipal(r, deny) && s.matchesAction(action) && s.matchesResource(r, vars) &&
		(s.matchesConditions(r, vars) || deny && s.couldBeNamedPerson(r, vars))
}

// matchesPrincipal applies Principal.Names to the statement's principals.
func (s *Statement) matchesPrincipal(r *Request, deny bool) bool {
	c := r.Caller
	if s.notPrincipal {
		// Everyone but the listed principals: an Allow never admits an
		// entity-less token by exclusion, and an exception names only whom
		// it names for certain (UseException).
		if !deny && c.entityLess() {
			return false
		}
		for _, p := range s.principals {
			if p.Names(c, UseException) {
				return false
			}
		}
		return true
	}
	use := UseAllow
	if deny {
		use = UseDeny
	}
	for _, p := range s.principals {
		if p.Names(c, use) {
			return true
		}
	}
	return false
}

func (s *Statement) matchesAction(action string) bool {
	hit := false
	for _, a := range s.actions {
		if a.match(action, true) {
			hit = true
			break
		}
	}
	return hit != s.notAction
}

func (s *Statement) matchesConditions(r *Request, vars bool) bool {
	for _, c := range s.conditions {
		if !c.evalReading(r.Keys, vars, r.reads) {
			return false
		}
	}
	return true
}

// ConditionValues are the values the policy's conditions compare the key
// with (name compared without case), so that a caller can tell which of
// them spell, in another form, an identity it answers the key for.
func (p *Policy) ConditionValues(name string) []string {
	name = strings.ToLower(name)
	var out []string
	for _, s := range p.Statements {
		for _, c := range s.conditions {
			if c.key == name {
				out = append(out, c.values...)
			}
		}
	}
	return out
}

// References reports whether a condition of the policy tests the key, or a
// policy variable in a condition value or a Resource reads it
// (name compared without case), so that a costly key is computed only
// when some statement asks for it.
func (p *Policy) References(name string) bool {
	name = strings.ToLower(name)
	for _, s := range p.Statements {
		for _, c := range s.conditions {
			if c.key == name || anyNames(c.values, name) {
				return true
			}
		}
		for _, r := range s.resources {
			if anyNames([]string{r.raw}, name) {
				return true
			}
		}
	}
	return false
}

// anyNames reports whether a value holds a policy variable of key name
// (lower case), as ${name} or ${name, 'default'}.
func anyNames(values []string, name string) bool {
	for _, v := range values {
		for {
			_, n, rest, ok := nextVariable(v)
			if !ok {
				break
			}
			if k, _, _ := strings.Cut(n, ","); strings.ToLower(strings.TrimSpace(k)) == name {
				return true
			}
			v = rest
		}
	}
	return false
}
