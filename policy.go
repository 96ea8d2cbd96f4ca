package kms

import (
	"bytes"
	"encoding/json"
	"strings"
)

// contextMatcher is a grant constraint on the request's encryption
// context.
type contextMatcher struct {
	// Equals: the request's context must be exactly this map.
	Equals map[string]string `json:"encryption_context_equals,omitempty"`
	// Subset: the request's context must contain every pair of this map.
	Subset map[string]string `json:"encryption_context_subset,omitempty"`
}

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
