package awspolicy

import "strings"

// The pattern budget bounds what one evaluation can cost. Matching a text
// against a wildcard pattern costs about len(text) times the pattern's
// cost (pattern.cost: 1, or more for a ? segment wider than 64 runes), and
// a condition's patterns meet request values as long as an 8 KB
// encryption context; so the sum of the costs of a policy's condition
// patterns is limited. Every example policy of AWS's documentation has a
// handful of patterns (the corpus in testdata/corpus has at most a few per
// policy); the limit leaves room for two orders of magnitude more, and a
// policy at the limit costs tens of milliseconds in the worst case
// (BenchmarkWorstPolicyWithinBudget) rather than seconds.
//
// A policy variable inside a ? segment counts as maxVariableRunes wide.
//
// Every policy value is read once per evaluation at most (operand.go), so
// values that are not globs, however many, cost one comparison or lookup
// per request value (BenchmarkExactVariablesWithinBudget).
//
// Action and Resource patterns are not counted: they meet only an action
// name and the key's ARN, whose length the plugin fixes.
const MaxPatternCost = 256

// checkBudget refuses a policy over the budget, naming the limit.
func (p *Policy) checkBudget() error {
	total := 0
	for _, s := range p.Statements {
		for _, c := range s.conditions {
			if c.op == nil || !c.op.like {
				continue
			}
			for _, v := range c.values {
				total += worstCase(v, p.Version == Version2012 && c.op.vars).cost()
			}
		}
	}
	if total > MaxPatternCost {
		return malformed("Statement", "the policy's condition patterns cost %d, more than the limit of %d: "+
			"use fewer wildcard values (each counts 1; a ? segment, the text between two *s, counts 1 per 64 characters, a policy variable in one as 8192)", total, MaxPatternCost)
	}
	return nil
}

// maxVariableRunes is how wide the budget takes a policy variable's text
// to be: as wide as an encryption context (AWS's limit, 8192 characters),
// the longest text a request brings.
const maxVariableRunes = 8192

// worstCase is the pattern of a condition value with each policy variable
// replaced by literal text as wide as maxVariableRunes. Literal text costs
// nothing by itself, but inside a ? segment it widens the segment, and so
// the cost of every rune matched against it.
func worstCase(v string, vars bool) pattern {
	var p pattern
	for vars {
		before, name, rest, ok := nextVariable(v)
		if !ok {
			break
		}
		p.addGlob(before)
		switch name {
		case "*", "?", "$":
			p.addLiteral(name)
		default:
			p.addLiteral(strings.Repeat("x", maxVariableRunes))
		}
		v = rest
	}
	p.addGlob(v)
	return p
}
