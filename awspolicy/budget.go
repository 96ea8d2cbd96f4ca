package awspolicy

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
				total += glob(v).cost()
			}
		}
	}
	if total > MaxPatternCost {
		return malformed("Statement", "the policy's condition patterns cost %d, more than the limit of %d: "+
			"use fewer wildcard values (each counts 1, a ? run wider than 64 characters more)", total, MaxPatternCost)
	}
	return nil
}
