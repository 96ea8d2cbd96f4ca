package access

import (
	"regexp"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

var grantNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]{1,256}$`)

// GrantParams are CreateGrant's parameters, as the request gives them.
type GrantParams struct {
	Grantee, Retiring, Name string
	Ops                     []string
	// At most one of the two constraints.
	Equals, Subset map[string]string
}

// NewGrant validates CreateGrant's parameters into a grant (without ids,
// issuer or date). Every problem is a ValidationException naming the
// parameter, never quoting its value.
func NewGrant(p GrantParams) (*Grant, error) {
	g := &Grant{GranteePrincipal: p.Grantee, RetiringPrincipal: p.Retiring, Operations: p.Ops, Name: p.Name}
	if g.GranteePrincipal == "" {
		return nil, kmserr.Validationf("grantee_principal is required")
	}
	if _, err := awspolicy.ParsePrincipal(g.GranteePrincipal); err != nil {
		return nil, kmserr.Validationf("grantee_principal: %s", err)
	}
	if g.RetiringPrincipal != "" {
		if _, err := awspolicy.ParsePrincipal(g.RetiringPrincipal); err != nil {
			return nil, kmserr.Validationf("retiring_principal: %s", err)
		}
	}
	if g.Name != "" && !grantNamePattern.MatchString(g.Name) {
		return nil, kmserr.Validationf("name must be 1..256 characters of letters, digits, :, /, _ and -")
	}
	if err := checkGrantOperations(g.Operations); err != nil {
		return nil, err
	}
	for _, c := range []map[string]string{p.Equals, p.Subset} {
		if err := CheckConstraint(c); err != nil {
			return nil, err
		}
	}
	switch {
	case len(p.Equals) > 0 && len(p.Subset) > 0:
		return nil, kmserr.Validationf("give at most one of encryption_context_equals and encryption_context_subset")
	case len(p.Equals) > 0:
		g.Constraints = &Constraint{Equals: p.Equals}
	case len(p.Subset) > 0:
		g.Constraints = &Constraint{Subset: p.Subset}
	}
	return g, nil
}

// checkGrantOperations: one to all of the grantable operations, each once.
func checkGrantOperations(ops []string) error {
	if len(ops) == 0 {
		return kmserr.Validationf("operations is required")
	}
	if n := GrantableCount(); len(ops) > n {
		return kmserr.Validationf("operations lists %d operations; a grant allows at most the %d grantable ones", len(ops), n)
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if !Operations[op].Grantable {
			return kmserr.Validationf("operations: every entry must be an operation a grant can allow (%s)", GrantableOperations())
		}
		if seen[op] {
			return kmserr.Validationf("operations lists %s more than once", op)
		}
		seen[op] = true
	}
	return nil
}
