package access

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Constraint is a grant's constraint on the request's encryption context.
type Constraint struct {
	// Equals: the request's context must be exactly this map.
	Equals map[string]string `json:"encryption_context_equals,omitempty"`
	// Subset: the request's context must contain every pair of this map.
	Subset map[string]string `json:"encryption_context_subset,omitempty"`
}

// AWS's bounds on a grant constraint's encryption context.
const (
	maxConstraintPairs = 8
	maxConstraintChars = 384
)

// CheckConstraint checks a constraint's context against AWS's bounds.
func CheckConstraint(c map[string]string) error {
	if len(c) > maxConstraintPairs {
		return kmserr.Validationf("a grant constraint has at most %d encryption context pairs, got %d", maxConstraintPairs, len(c))
	}
	folded := make(map[string]bool, len(c))
	for k, v := range c {
		if k == "" || utf8.RuneCountInString(k) > maxConstraintChars || utf8.RuneCountInString(v) > maxConstraintChars {
			return kmserr.Validationf("grant constraint keys must be 1..%d characters and values at most %d", maxConstraintChars, maxConstraintChars)
		}
		// Keys compare without case (Matches): two that differ only in
		// case would be one key with two values.
		if f := strings.ToLower(k); folded[f] {
			return kmserr.Validationf("a grant constraint has two keys that differ only in case; keys compare without case")
		} else {
			folded[f] = true
		}
	}
	return nil
}

// Matches reports whether ec satisfies the constraint. A constraint
// applies only to operations that take an encryption context; for the
// others it does not match. Keys compare without case and values with
// it, as AWS's GrantConstraints reference says.
func (m *Constraint) Matches(ec map[string]string, hasContext bool) bool {
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
// case and values with it. A key that b spells twice (dept and Dept) is in
// b only if both spellings hold its value: either answers the key, so a
// grant for dept=hr must not admit {"dept":"finance","Dept":"hr"} (as
// kms:EncryptionContext:dept refuses such a context, checkContextCase).
func pairsIn(a, b map[string]string) bool {
	for k, v := range a {
		found := false
		for bk, bv := range b {
			if bk == k || strings.EqualFold(bk, k) {
				if bv != v {
					return false
				}
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// AtLeastAsStrictAs reports whether every context m admits, parent admits
// too, so that a grantee holding CreateGrant through a grant constrained
// by parent may create a grant constrained by m (AWS's developer guide on
// grant constraints): under an Equals parent, the same Equals; under a
// Subset parent, a Subset or an Equals holding at least its pairs.
func (m *Constraint) AtLeastAsStrictAs(parent *Constraint) bool {
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

// Equal reports whether two constraints are the same.
func (m *Constraint) Equal(o *Constraint) bool {
	a, _ := json.Marshal(m)
	b, _ := json.Marshal(o)
	return bytes.Equal(a, b)
}

// Context is the constraint's context, as CreateGrant's policy question
// sees it (kms:EncryptionContext:<k> tests the constraint's pairs).
func (m *Constraint) Context() map[string]string {
	if m == nil {
		return nil
	}
	if m.Equals != nil {
		return m.Equals
	}
	return m.Subset
}

// Type is kms:GrantConstraintType's value for the constraint, or "".
func (m *Constraint) Type() string {
	switch {
	case m == nil:
		return ""
	case m.Equals != nil:
		return "EncryptionContextEquals"
	}
	return "EncryptionContextSubset"
}
