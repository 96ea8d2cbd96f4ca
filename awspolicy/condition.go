package awspolicy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Keys are a request's condition keys: lower-cased key name to its values
// (one for a single-valued key). A key the caller cannot answer is absent.
type Keys map[string][]string

// Add appends values to a key, lower-casing its name as IAM compares
// condition key names without case.
func (k Keys) Add(name string, values ...string) {
	if len(values) == 0 {
		return
	}
	n := strings.ToLower(name)
	k[n] = append(k[n], values...)
}

func (k Keys) get(name string) ([]string, bool) {
	v, ok := k[name]
	return v, ok
}

// operator compares one request value with one policy value.
type operator struct {
	name    string
	negated bool
	// vars: the operator's policy values may hold policy variables.
	vars bool
	// like: policy values are globs.
	like bool
	fold bool
	// check validates a policy value; nil accepts any.
	check func(string) error
	// kind says how values are read (operand.go).
	kind operandKind
	// cmp compares a request value with a (substituted) policy value.
	cmp func(req, pol *operand) bool
	// exactSet: cmp is string equality (without case when fold), so
	// values may be looked up.
	exactSet bool
}

func checkNumber(s string) error {
	_, err := parseNumber(s)
	return err
}

func checkDate(s string) error {
	_, err := parseDate(s)
	return err
}

func checkBool(s string) error {
	if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
		return fmt.Errorf("%q is not true or false", s)
	}
	return nil
}

func checkARN(s string) error {
	if s != "*" && len(strings.SplitN(s, ":", 6)) != 6 && !strings.Contains(s, "${") {
		return fmt.Errorf("%q is not an ARN (arn:partition:service:region:account:resource)", s)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkIP(s string) error {
	_, err := parsePrefix(s)
	return err
}

var operators = func() map[string]*operator {
	list := []*operator{
		{name: "StringEquals", vars: true, exactSet: true, cmp: exact(false)},
		{name: "StringNotEquals", vars: true, negated: true, exactSet: true, cmp: exact(false)},
		{name: "StringEqualsIgnoreCase", vars: true, fold: true, exactSet: true, cmp: exact(true)},
		{name: "StringNotEqualsIgnoreCase", vars: true, fold: true, negated: true, exactSet: true, cmp: exact(true)},
		{name: "StringLike", vars: true, like: true, cmp: like},
		{name: "StringNotLike", vars: true, like: true, negated: true, cmp: like},
		{name: "NumericEquals", kind: kindNumber, check: checkNumber, cmp: numeric(func(a, b float64) bool { return a == b })},
		{name: "NumericNotEquals", kind: kindNumber, check: checkNumber, negated: true, cmp: numeric(func(a, b float64) bool { return a == b })},
		{name: "NumericLessThan", kind: kindNumber, check: checkNumber, cmp: numeric(func(a, b float64) bool { return a < b })},
		{name: "NumericLessThanEquals", kind: kindNumber, check: checkNumber, cmp: numeric(func(a, b float64) bool { return a <= b })},
		{name: "NumericGreaterThan", kind: kindNumber, check: checkNumber, cmp: numeric(func(a, b float64) bool { return a > b })},
		{name: "NumericGreaterThanEquals", kind: kindNumber, check: checkNumber, cmp: numeric(func(a, b float64) bool { return a >= b })},
		{name: "DateEquals", kind: kindDate, check: checkDate, cmp: date(func(c, _ int) bool { return c == 0 })},
		{name: "DateNotEquals", kind: kindDate, check: checkDate, negated: true, cmp: date(func(c, _ int) bool { return c == 0 })},
		{name: "DateLessThan", kind: kindDate, check: checkDate, cmp: date(func(c, _ int) bool { return c < 0 })},
		{name: "DateLessThanEquals", kind: kindDate, check: checkDate, cmp: date(func(c, _ int) bool { return c <= 0 })},
		{name: "DateGreaterThan", kind: kindDate, check: checkDate, cmp: date(func(c, _ int) bool { return c > 0 })},
		{name: "DateGreaterThanEquals", kind: kindDate, check: checkDate, cmp: date(func(c, _ int) bool { return c >= 0 })},
		{name: "Bool", check: checkBool, fold: true, exactSet: true, cmp: exact(true)},
		{name: "ArnEquals", kind: kindARN, vars: true, like: true, check: checkARN, cmp: arnLike},
		{name: "ArnLike", kind: kindARN, vars: true, like: true, check: checkARN, cmp: arnLike},
		{name: "ArnNotEquals", kind: kindARN, vars: true, like: true, negated: true, check: checkARN, cmp: arnLike},
		{name: "ArnNotLike", kind: kindARN, vars: true, like: true, negated: true, check: checkARN, cmp: arnLike},
		{name: "IpAddress", kind: kindIP, check: checkIP, cmp: inPrefix},
		{name: "NotIpAddress", kind: kindIP, check: checkIP, negated: true, cmp: inPrefix},
	}
	m := map[string]*operator{}
	for _, o := range list {
		m[strings.ToLower(o.name)] = o
	}
	return m
}()

type qualifier int

const (
	single qualifier = iota
	forAnyValue
	forAllValues
)

// condition is one key under one operator, with its policy values.
type condition struct {
	op       *operator // nil for Null
	null     bool
	qual     qualifier
	ifExists bool
	key      string // lower-cased
	values   []string
	// compiled holds the values read as operands when none has a policy
	// variable, so evaluation does not read them again.
	compiled []operand
	// set holds the values of an exact operator (StringEquals,
	// StringEqualsIgnoreCase by foldKey, ...) when compiled, so that a
	// long list of values costs one lookup per request value.
	set map[string]bool
}

// valueSet returns an exact operator's values as a set (nil for other
// operators).
func (o *operator) valueSet(pols []operand) map[string]bool {
	if !o.exactSet {
		return nil
	}
	set := make(map[string]bool, len(pols))
	for i := range pols {
		set[o.setKey(pols[i].s)] = true
	}
	return set
}

func (o *operator) setKey(s string) string {
	if o.fold {
		return foldKey(s)
	}
	return s
}

// parseOperator reads "ForAnyValue:StringLikeIfExists" and the like.
func parseOperator(name string) (*condition, error) {
	c := &condition{}
	rest := name
	if q, r, ok := strings.Cut(name, ":"); ok {
		switch strings.ToLower(q) {
		case "forallvalues":
			c.qual = forAllValues
		case "foranyvalue":
			c.qual = forAnyValue
		default:
			return nil, fmt.Errorf("unknown set qualifier %q (ForAllValues or ForAnyValue)", q)
		}
		rest = r
	}
	low := strings.ToLower(rest)
	if low == "null" {
		if c.qual != single {
			return nil, fmt.Errorf("%s takes no set qualifier", name)
		}
		c.null = true
		return c, nil
	}
	if base, ok := strings.CutSuffix(low, "ifexists"); ok {
		c.ifExists, low = true, base
	}
	op, ok := operators[low]
	if !ok {
		return nil, fmt.Errorf("unknown condition operator %q", name)
	}
	c.op = op
	return c, nil
}

func (c *condition) validate(vars bool) error {
	if len(c.values) == 0 {
		return fmt.Errorf("condition key %s has no values", c.key)
	}
	if c.op != nil && !(vars && c.op.vars && containsVariable(c.values)) {
		for _, v := range c.values {
			pol, _ := c.op.value(v, nil, false)
			c.compiled = append(c.compiled, pol)
		}
		c.set = c.op.valueSet(c.compiled)
	}
	for _, v := range c.values {
		switch {
		case c.null:
			if err := checkBool(v); err != nil {
				return fmt.Errorf("Null on %s: %v", c.key, err)
			}
		case c.op.check != nil && !(vars && c.op.vars && strings.Contains(v, "${")):
			if err := c.op.check(v); err != nil {
				return fmt.Errorf("%s on %s: %v", c.op.name, c.key, err)
			}
		}
	}
	return nil
}

// eval applies AWS's rules: the policy values are ORed for one request
// value (NOR for a negated operator); ForAnyValue needs one request value
// to pass, ForAllValues every one. On an absent key ForAllValues passes
// and ForAnyValue fails, IfExists or not (no value can pass: AWS answers
// ForAnyValue:StringEqualsIfExists on an absent key as false); without a
// qualifier an absent key fails a positive operator, passes a negated one,
// and passes with IfExists. Null tests presence alone.
func (c *condition) eval(keys Keys, vars bool) bool { return c.evalReading(keys, vars, nil) }

// evalReading is eval with the request values read through reads (nil:
// read here), which an evaluation shares among its conditions.
func (c *condition) evalReading(keys Keys, vars bool, reads *requestReads) bool {
	got, present := keys.get(c.key)
	if c.null {
		for _, v := range c.values {
			if strings.EqualFold(v, "true") != present {
				return true
			}
		}
		return false
	}
	if !present || len(got) == 0 {
		switch {
		case c.qual == forAllValues:
			return true
		case c.qual == forAnyValue:
			return false
		case c.ifExists:
			return true
		}
		return c.op.negated
	}
	pols, set := c.compiled, c.set
	if pols == nil {
		// Substituted values are read once per evaluation, not once per
		// request value they meet.
		pols = make([]operand, 0, len(c.values))
		for _, v := range c.values {
			if pol, ok := c.op.value(v, keys, vars && c.op.vars); ok {
				pols = append(pols, pol)
			}
		}
		set = c.op.valueSet(pols)
	}
	reqs := reads.of(c.op, c.key, got)
	one := func(j int) bool {
		req := &reqs[j]
		if set != nil {
			return set[req.s] != c.op.negated
		}
		hit := false
		for i := range pols {
			if c.op.cmp(req, &pols[i]) {
				hit = true
				break
			}
		}
		return hit != c.op.negated
	}
	switch c.qual {
	case forAnyValue:
		for j := range got {
			if one(j) {
				return true
			}
		}
		return false
	case forAllValues:
		for j := range got {
			if !one(j) {
				return false
			}
		}
		return true
	}
	// Without a qualifier a multi-valued key matches when any of its
	// values does; a negated operator when none does.
	for j := range got {
		if one(j) != c.op.negated {
			return !c.op.negated
		}
	}
	return c.op.negated
}

// expand replaces policy variables (${aws:username}, ${key, 'default'},
// ${*}, ${?}, ${$}) in a policy value, handing emit the value's own text
// (sub false) and each substituted text (sub true) in order. A variable
// whose key is absent (and has no default) makes the value match nothing:
// expand returns false.
func expand(v string, keys Keys, vars bool, emit func(text string, sub bool)) bool {
	for vars {
		before, name, rest, ok := nextVariable(v)
		if !ok {
			break
		}
		emit(before, false)
		v = rest
		switch name {
		case "*", "?", "$":
			emit(name, true)
			continue
		}
		def, hasDef := "", false
		if k, d, ok := strings.Cut(name, ","); ok {
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				name, def, hasDef = strings.TrimSpace(k), d[1:len(d)-1], true
			}
		}
		got, ok := keys.get(strings.ToLower(name))
		switch {
		case ok && len(got) == 1:
			emit(got[0], true)
		case hasDef:
			emit(def, true)
		default:
			return false
		}
	}
	emit(v, false)
	return true
}

// nextVariable splits v at its first policy variable: the text before it,
// the variable's name (trimmed, with any default), and the text after it.
func nextVariable(v string) (before, name, rest string, ok bool) {
	i := strings.Index(v, "${")
	if i < 0 {
		return "", "", "", false
	}
	j := strings.IndexByte(v[i:], '}')
	if j < 0 {
		return "", "", "", false
	}
	return v[:i], strings.TrimSpace(v[i+2 : i+j]), v[i+j+1:], true
}

// substitute is expand into a pattern: substituted text is literal even
// in a glob.
func substitute(v string, keys Keys, vars, isGlob bool) (pattern, bool) {
	var p pattern
	ok := expand(v, keys, vars, func(text string, sub bool) {
		if isGlob && !sub {
			p.addGlob(text)
		} else {
			p.addLiteral(text)
		}
	})
	if !ok {
		return pattern{}, false
	}
	return p, true
}

// value reads one policy value for the operator, its variables
// substituted: as a glob for a like operator, as plain text (which costs
// one copy) for the others.
func (o *operator) value(v string, keys Keys, vars bool) (operand, bool) {
	if o.like {
		p, ok := substitute(v, keys, vars, true)
		return o.policyOperand("", p), ok
	}
	var b strings.Builder
	ok := expand(v, keys, vars, func(text string, _ bool) { b.WriteString(text) })
	return o.policyOperand(b.String(), pattern{}), ok
}

func containsVariable(values []string) bool {
	for _, v := range values {
		if strings.Contains(v, "${") {
			return true
		}
	}
	return false
}
