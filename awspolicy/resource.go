package awspolicy

import (
	"fmt"
	"strings"
)

// resource is one value of a statement's Resource or NotResource: "*" or
// an ARN whose six segments (arn:partition:service:region:account:resource)
// are globs matched each within its own segment, as AWS matches them: a
// wildcard never stands for a ":" of the first five.
type resource struct {
	raw string
	// compiled is the value as an ARN glob, when it holds no policy
	// variable (or the policy's version has none).
	compiled operand
	vars     bool
}

// parseResource checks one Resource value. AWS allows wildcards in every
// segment but the service ("a wildcard can't be used in the service
// segment"), which is refused here rather than silently never matched.
func parseResource(r, version string) (resource, error) {
	if r == "*" {
		return resource{raw: r, compiled: resourceOperand(glob(r))}, nil
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return resource{}, fmt.Errorf(`each value must be "*" or an ARN (arn:partition:service:region:account:resource)`)
	}
	if strings.ContainsAny(parts[2], "*?") {
		return resource{}, fmt.Errorf("an ARN cannot have a wildcard in its service segment (kms)")
	}
	if version == Version2012 && strings.Contains(r, "${") {
		return resource{raw: r, vars: true}, nil
	}
	return resource{raw: r, compiled: resourceOperand(glob(r))}, nil
}

// matchesResource substitutes policy variables as conditions do (a
// variable with no value and no default makes the value match nothing).
func (s *Statement) matchesResource(r *Request, vars bool) bool {
	hit := false
	req := resourceOp.requestOperand(r.Resource)
	for i := range s.resources {
		res := &s.resources[i]
		pol := res.compiled
		if res.vars {
			p, ok := substitute(res.raw, r.Keys, vars, true)
			if !ok {
				continue
			}
			pol = resourceOperand(p)
		}
		if arnLike(&req, &pol) {
			hit = true
			break
		}
	}
	return hit != s.notResource
}

// resourceOp reads Resource values as ArnLike reads its values.
var resourceOp = operators["arnlike"]

func resourceOperand(p pattern) operand { return resourceOp.policyOperand("", p) }
