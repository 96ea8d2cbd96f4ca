package kms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
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

	principals []awspolicy.Principal
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
// an operation that has none). Keys compare without case and values with
// it, as AWS's GrantConstraints reference says of grant constraints.
func (m *contextMatcher) matches(ec map[string]string, hasContext bool) bool {
	if m == nil {
		return true
	}
	if !hasContext {
		return false
	}
	if m.Equals != nil && (len(ec) != len(m.Equals) || !pairsIn(m.Equals, ec) || !pairsIn(ec, m.Equals)) {
		return false
	}
	return pairsIn(m.Subset, ec)
}

// pairsIn reports whether every pair of a is in b, keys compared without
// case and values with it.
func pairsIn(a, b map[string]string) bool {
	for k, v := range a {
		if got, ok := b[k]; ok && got == v {
			continue
		}
		found := false
		for bk, bv := range b {
			if bv == v && strings.EqualFold(bk, k) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// atLeastAsStrictAs reports whether every context m admits, parent admits
// too, so that a grantee holding CreateGrant through a grant constrained
// by parent may create a grant constrained by m (AWS's developer guide on
// grant constraints): under an Equals parent, the same Equals; under a
// Subset parent, a Subset or an Equals holding at least its pairs.
func (m *contextMatcher) atLeastAsStrictAs(parent *contextMatcher) bool {
	switch {
	case parent == nil:
		return true
	case m == nil:
		return false
	case parent.Equals != nil:
		return m.Equals != nil && len(m.Equals) == len(parent.Equals) && pairsIn(parent.Equals, m.Equals) && pairsIn(m.Equals, parent.Equals)
	}
	pairs := m.Subset
	if m.Equals != nil {
		pairs = m.Equals
	}
	return pairsIn(parent.Subset, pairs)
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
		return kmserr.New(kmserr.MalformedPolicy, format, args...)
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
	for i := range p.Statements {
		s := &p.Statements[i]
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
			parsed, err := awspolicy.ParseVaultPrincipal(pr)
			if err != nil {
				return nil, malformed("%s: %s", where, err)
			}
			s.principals = append(s.principals, parsed)
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

func hasOperation(list []string, op string) bool {
	for _, o := range list {
		if o == op || o == "*" {
			return true
		}
	}
	return false
}

// names applies the one principal rule (awspolicy.Principal.Names) to
// the statement's principals.
func (s *policyStatement) names(who *awspolicy.Caller) bool {
	use := awspolicy.UseAllow
	if s.Effect == effectDeny {
		use = awspolicy.UseDeny
	}
	for _, p := range s.principals {
		if p.Names(who, use) {
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
func (p *keyPolicy) evaluate(who *awspolicy.Caller, op string, ec map[string]string, hasContext bool) (decision, string) {
	verdict, by := noDecision, ""
	for i := range p.Statements {
		s := &p.Statements[i]
		if !hasOperation(s.Operations, op) || !s.names(who) || !s.Conditions.matches(ec, hasContext) {
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
