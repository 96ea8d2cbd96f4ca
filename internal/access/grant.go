package access

import (
	"sync"
	"time"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Grant is a stored grant: some operations on one key for a grantee.
type Grant struct {
	GrantID           string      `json:"grant_id"`
	KeyID             string      `json:"key_id"`
	Name              string      `json:"name,omitempty"`
	GranteePrincipal  string      `json:"grantee_principal"`
	RetiringPrincipal string      `json:"retiring_principal,omitempty"`
	IssuingPrincipal  string      `json:"issuing_principal"`
	Operations        []string    `json:"operations"`
	Constraints       *Constraint `json:"constraints,omitempty"`
	CreationDate      time.Time   `json:"creation_date"`

	// grantee is GranteePrincipal parsed, when the index holds the grant.
	grantee awspolicy.Principal
}

// SameParameters is AWS's test for an idempotent CreateGrant.
func (g *Grant) SameParameters(o *Grant) bool {
	if g.GranteePrincipal != o.GranteePrincipal || g.RetiringPrincipal != o.RetiringPrincipal ||
		len(g.Operations) != len(o.Operations) || !g.Constraints.Equal(o.Constraints) {
		return false
	}
	for _, op := range o.Operations {
		if !HasOperation(g.Operations, op) {
			return false
		}
	}
	return true
}

// FitsKey checks a grant against the key it is for (keyID, spec name and
// usage, for the error).
func (g *Grant) FitsKey(keyID string, spec *keyspec.Spec, usage keyspec.KeyUsage) error {
	for _, op := range g.Operations {
		if !Operations[op].FitsKey(usage, spec) {
			return kmserr.Validationf("a grant for %s does not fit key '%s' (%s, %s)", op, keyID, spec.Name, usage)
		}
	}
	// AWS: an encryption context constraint only on symmetric encryption
	// keys. Elsewhere no operation carries a context, so the constraint
	// would constrain nothing while looking as if it did.
	if g.Constraints != nil && spec.Family != keyspec.FamilySymmetric {
		return kmserr.Validationf("an encryption context constraint is allowed only in grants for symmetric encryption keys; key '%s' is %s", keyID, spec.Name)
	}
	return nil
}

// GrantableOperations names the operations a grant can allow.
func GrantableOperations() string {
	var names []string
	for name, o := range Operations {
		if o.Grantable {
			names = append(names, name)
		}
	}
	return keyspec.OneOf(names)
}

// GrantableCount is how many operations a grant can allow.
func GrantableCount() int {
	n := 0
	for _, o := range Operations {
		if o.Grantable {
			n++
		}
	}
	return n
}

// RetireStanding is the caller's standing to retire g whatever the key
// policy says (Request.Standing): as its retiring principal, or as its
// grantee when it includes RetireGrant; "" otherwise.
func (g *Grant) RetireStanding(who *awspolicy.Caller) string {
	switch {
	case g.RetiringPrincipal != "" && PrincipalMatches(g.RetiringPrincipal, who):
		return "retiring principal of grant " + g.GrantID
	case PrincipalMatches(g.GranteePrincipal, who) && HasOperation(g.Operations, keyspec.OpRetireGrant):
		return "grantee of grant " + g.GrantID + ", which includes RetireGrant"
	}
	return ""
}

// PrincipalMatches applies the one principal rule to a grant's grantee
// or retiring principal (either form).
func PrincipalMatches(principal string, who *awspolicy.Caller) bool {
	p, err := awspolicy.ParsePrincipal(principal)
	return err == nil && p.Names(who, awspolicy.UseAllow)
}

// granteeKey is the index key of a grantee: its Vault identity, so that
// an IAM ARN and the Vault form of the same identity meet in one list.
func granteeKey(principal string) (string, awspolicy.Principal) {
	p, err := awspolicy.ParsePrincipal(principal)
	if err != nil {
		return principal, p
	}
	return p.IndexKey(), p
}

// GrantIndex holds one key's grants, indexed by grantee so that checking
// a request is a lookup, however many grants the key has.
type GrantIndex struct {
	mu        sync.RWMutex
	byID      map[string]*Grant
	byGrantee map[string][]*Grant
}

// NewGrantIndex is an empty index.
func NewGrantIndex() *GrantIndex {
	return &GrantIndex{byID: map[string]*Grant{}, byGrantee: map[string][]*Grant{}}
}

// Add indexes g.
func (x *GrantIndex) Add(g *Grant) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byID[g.GrantID] = g
	key, p := granteeKey(g.GranteePrincipal)
	g.grantee = p
	x.byGrantee[key] = append(x.byGrantee[key], g)
}

// Remove drops grant id from the index.
func (x *GrantIndex) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	g, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	key, _ := granteeKey(g.GranteePrincipal)
	list := x.byGrantee[key]
	out := make([]*Grant, 0, len(list))
	for _, o := range list {
		if o.GrantID != id {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		delete(x.byGrantee, key)
	} else {
		x.byGrantee[key] = out
	}
}

// Get is grant id, or nil.
func (x *GrantIndex) Get(id string) *Grant {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byID[id]
}

// All lists the key's grants.
func (x *GrantIndex) All() []*Grant {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]*Grant, 0, len(x.byID))
	for _, g := range x.byID {
		out = append(out, g)
	}
	return out
}

// Count is the number of the key's grants.
func (x *GrantIndex) Count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// HasExactly reports whether the index holds exactly these grant ids.
func (x *GrantIndex) HasExactly(ids []string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(ids) != len(x.byID) {
		return false
	}
	for _, id := range ids {
		if _, ok := x.byID[id]; !ok {
			return false
		}
	}
	return true
}

// Find returns one of the caller's grants that allow op with context ec.
func (x *GrantIndex) Find(who *awspolicy.Caller, op string, ec map[string]string, hasContext bool) *Grant {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, k := range who.IndexKeys() {
		for _, g := range x.byGrantee[k] {
			// Constraints apply only to operations that take a context.
			if HasOperation(g.Operations, op) && (!hasContext || g.Constraints.Matches(ec, true)) && g.grantee.Names(who, awspolicy.UseAllow) {
				return g
			}
		}
	}
	return nil
}

// ForGrantee lists the grants whose grantee is the caller.
func (x *GrantIndex) ForGrantee(who *awspolicy.Caller) []*Grant {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []*Grant
	for _, k := range who.IndexKeys() {
		for _, g := range x.byGrantee[k] {
			if g.grantee.Names(who, awspolicy.UseAllow) {
				out = append(out, g)
			}
		}
	}
	return out
}

// ParentGrant is the id of one of the caller's grants that lets it create
// g (Request.Grant for CreateGrant): a grant including CreateGrant lets
// its grantee create grants for the same or fewer operations under
// constraints at least as strict; "" if none does.
func (x *GrantIndex) ParentGrant(who *awspolicy.Caller, g *Grant) string {
	for _, parent := range x.ForGrantee(who) {
		if !HasOperation(parent.Operations, keyspec.OpCreateGrant) {
			continue
		}
		narrower := g.Constraints.AtLeastAsStrictAs(parent.Constraints)
		for _, op := range g.Operations {
			narrower = narrower && HasOperation(parent.Operations, op)
		}
		if narrower {
			return parent.GrantID
		}
	}
	return ""
}
