package kms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openkms/vault-plugin-kms/awspolicy"
)

// A key policy: an AWS key policy document (aws), or a document of the
// plugin's first format, whose statements allow or deny operations to
// principals, optionally only for some encryption contexts. Deny wins.
type keyPolicy struct {
	Statements []policyStatement `json:"statements"`

	aws *awspolicy.Policy
}

type policyStatement struct {
	Sid        string          `json:"sid,omitempty"`
	Effect     string          `json:"effect"`
	Principals []string        `json:"principals"`
	Operations []string        `json:"operations"`
	Conditions *contextMatcher `json:"conditions,omitempty"`
}

// contextMatcher is a key policy condition or a grant constraint on the
// request's encryption context.
type contextMatcher struct {
	// Equals: the request's context must be exactly this map.
	Equals map[string]string `json:"encryption_context_equals,omitempty"`
	// Subset: the request's context must contain every pair of this map.
	Subset map[string]string `json:"encryption_context_subset,omitempty"`
}

const (
	effectAllow = "Allow"
	effectDeny  = "Deny"

	maxPolicyBytes = 32 * 1024 // AWS's key policy size limit
)

// defaultPolicyJSON is the first format's default policy: it lets every
// caller that Vault's ACL lets through use the key. It names
// principalNoEntity too, since * in an Allow statement does not match
// callers without an entity. Keys without a policy now get AWS's default
// policy (defaultAWSPolicyText), which means the same.
const defaultPolicyJSON = `{"statements":[{"sid":"DelegateToVaultACL","effect":"Allow","principals":["*","no_entity"],"operations":["*"]}]}`

// matches reports whether ec satisfies the matcher. A matcher applies only
// to operations that take an encryption context; for the others it does
// not match (a statement conditioned on a context cannot allow, or deny,
// an operation that has none).
func (m *contextMatcher) matches(ec map[string]string, hasContext bool) bool {
	if m == nil {
		return true
	}
	if !hasContext {
		return false
	}
	if m.Equals != nil {
		if len(ec) != len(m.Equals) {
			return false
		}
		for k, v := range m.Equals {
			if got, ok := ec[k]; !ok || got != v {
				return false
			}
		}
	}
	for k, v := range m.Subset {
		if got, ok := ec[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (m *contextMatcher) equal(o *contextMatcher) bool {
	a, _ := json.Marshal(m)
	b, _ := json.Marshal(o)
	return bytes.Equal(a, b)
}

// storedPolicyRefused stands in for a stored policy that no longer parses.
var storedPolicyRefused = func() *keyPolicy {
	p, err := parseAWSPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"StoredPolicyNoLongerValid-ReplaceItThroughPolicyRecovery",` +
		`"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`)
	if err != nil {
		panic(err)
	}
	return p
}()

// parsePolicy reads and validates a policy document, an AWS one or one of
// the first format. Every problem is a MalformedPolicyDocumentException
// naming what is wrong.
func parsePolicy(doc string) (*keyPolicy, error) {
	if !isLegacyPolicy(doc) {
		return parseAWSPolicy(doc)
	}
	malformed := func(format string, args ...any) error {
		return newErr(excMalformedPolicy, format, args...)
	}
	if len(doc) > maxPolicyBytes {
		return nil, malformed("the policy is larger than %d bytes", maxPolicyBytes)
	}
	if err := awspolicy.CheckDuplicateMembers(doc); err != nil {
		return nil, malformed("%v", err)
	}
	if err := checkLegacyFieldCase(doc); err != nil {
		return nil, malformed("%v", err)
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	p := &keyPolicy{}
	if err := dec.Decode(p); err != nil {
		return nil, malformed("the policy is not a valid policy document: %v", err)
	}
	if dec.More() {
		return nil, malformed("the policy has data after the document")
	}
	if len(p.Statements) == 0 {
		return nil, malformed("the policy has no statements")
	}
	for i, s := range p.Statements {
		where := fmt.Sprintf("statement %d", i)
		if s.Sid != "" {
			where = fmt.Sprintf("statement %d (%s)", i, s.Sid)
		}
		if s.Effect != effectAllow && s.Effect != effectDeny {
			return nil, malformed("%s: effect must be Allow or Deny, got %q", where, s.Effect)
		}
		if len(s.Principals) == 0 {
			return nil, malformed("%s: principals is empty", where)
		}
		for _, pr := range s.Principals {
			if err := validatePrincipal(pr, true); err != nil {
				return nil, malformed("%s: %s", where, err)
			}
		}
		if len(s.Operations) == 0 {
			return nil, malformed("%s: operations is empty", where)
		}
		for _, op := range s.Operations {
			if op != "*" && !isOperation(op) {
				return nil, malformed("%s: unknown operation %q", where, op)
			}
		}
		if s.Conditions != nil && s.Conditions.Equals == nil && s.Conditions.Subset == nil {
			return nil, malformed("%s: conditions needs encryption_context_equals or encryption_context_subset", where)
		}
	}
	return p, nil
}

// validatePrincipal checks one principal of the first policy format:
// entity:<id>, entity_name:<name>, group:<name>, group_id:<id>, or (when
// wildcard) * and no_entity.
func validatePrincipal(p string, wildcard bool) error {
	if p == "*" || p == principalNoEntity {
		if wildcard {
			return nil
		}
		return fmt.Errorf("the principal %s is not allowed here", p)
	}
	kind, value, ok := strings.Cut(p, ":")
	if !ok || value == "" {
		return fmt.Errorf("principal %q must be entity:<id>, entity_name:<name>, group:<name> or group_id:<id>", p)
	}
	switch kind {
	case "entity", "entity_name", "group", "group_id":
		return nil
	}
	return fmt.Errorf("principal %q has an unknown kind %q", p, kind)
}

func hasOperation(list []string, op string) bool {
	for _, o := range list {
		if o == op || o == "*" {
			return true
		}
	}
	return false
}

func hasPrincipal(list []string, who principalSet, effect string) bool {
	for _, p := range list {
		if who.matches(p, effect) {
			return true
		}
	}
	return false
}

// decision is the outcome of evaluating a key policy.
type decision int

const (
	noDecision decision = iota
	allowed
	denied
)

// evaluate applies the policy to a caller, an operation and its context.
// It returns denied if any Deny statement matches, allowed if an Allow
// statement matches, and noDecision otherwise (grants may still allow).
func (p *keyPolicy) evaluate(who principalSet, op string, ec map[string]string, hasContext bool) (decision, string) {
	verdict, by := noDecision, ""
	for i, s := range p.Statements {
		if !hasOperation(s.Operations, op) || !hasPrincipal(s.Principals, who, s.Effect) || !s.Conditions.matches(ec, hasContext) {
			continue
		}
		name := s.Sid
		if name == "" {
			name = fmt.Sprintf("statement %d", i)
		}
		if s.Effect == effectDeny {
			return denied, name
		}
		if verdict == noDecision {
			verdict, by = allowed, name
		}
	}
	return verdict, by
}

// principalSet is everything a caller is known as: when the token has an
// entity, *, entity:<id>, entity_name:<name>, group:<name> and
// group_id:<id> for each of its groups, and the entity's metadata (which
// AWS policies test as aws:PrincipalTag/<key>); without an entity, only
// principalNoEntity.
type principalSet struct {
	names    []string
	metadata map[string]string
}

// principalNoEntity is every caller whose token has no entity (orphan and
// root tokens). Such callers cannot be told apart, so "*" in an Allow
// statement does not admit them: a policy must name no_entity to. A Deny
// statement's "*" does match them, so they cannot slip past a Deny.
const principalNoEntity = "no_entity"

// matches reports whether principal p of a statement with this effect
// names the caller.
func (s principalSet) matches(p, effect string) bool {
	if p == "*" {
		return s.matchesWildcard(effect)
	}
	return s.has(p)
}

// matchesWildcard is the one rule for "*": in a Deny statement it matches
// every caller; in an Allow statement only callers with an entity.
func (s principalSet) matchesWildcard(effect string) bool {
	return effect == effectDeny || s.has("*")
}

func (s principalSet) has(p string) bool {
	for _, n := range s.names {
		if n == p {
			return true
		}
	}
	return false
}

// String names the caller in logs and errors: its entity, or "no entity".
func (s principalSet) String() string {
	for _, n := range s.names {
		if strings.HasPrefix(n, "entity:") {
			return n
		}
	}
	return "a token with no entity (" + principalNoEntity + ")"
}
