package awspolicy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
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
	// cmp compares a request value with a (substituted) policy value.
	cmp func(req string, pol pattern) bool
	// exactSet: cmp is string equality, so values may be looked up.
	exactSet bool
}

func exact(fold bool) func(string, pattern) bool {
	return func(req string, pol pattern) bool {
		if fold {
			return strings.EqualFold(req, pol.literal())
		}
		return req == pol.literal()
	}
}

func like(req string, pol pattern) bool { return pol.match(req, false) }

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = fmt.Errorf("not a finite number")
	}
	return f, err
}

func numeric(test func(a, b float64) bool) func(string, pattern) bool {
	return func(req string, pol pattern) bool {
		a, err1 := parseNumber(req)
		b, err2 := parseNumber(pol.literal())
		return err1 == nil && err2 == nil && test(a, b)
	}
}

// parseDate reads the date forms IAM accepts: ISO 8601 (date, or date and
// time) and epoch seconds.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (ISO 8601 or epoch seconds)", s)
}

func date(test func(a, b int) bool) func(string, pattern) bool {
	return func(req string, pol pattern) bool {
		a, err1 := parseDate(req)
		b, err2 := parseDate(pol.literal())
		return err1 == nil && err2 == nil && test(a.Compare(b), 0)
	}
}

// arnLike compares ARNs part by part (arn:partition:service:region:account:resource),
// each part a glob, as ArnLike and ArnEquals do.
func arnLike(req string, pol pattern) bool {
	if len(pol.r) == 1 && pol.wild[0] && pol.r[0] == '*' {
		return true
	}
	rp := strings.SplitN(req, ":", 6)
	if len(rp) != 6 {
		return false
	}
	var parts []pattern
	cur := pattern{}
	for i, c := range pol.r {
		if c == ':' && !pol.wild[i] && len(parts) < 5 {
			parts = append(parts, cur)
			cur = pattern{}
			continue
		}
		cur.r, cur.wild = append(cur.r, c), append(cur.wild, pol.wild[i])
	}
	parts = append(parts, cur)
	if len(parts) != 6 {
		return false
	}
	for i := range parts {
		if !parts[i].match(rp[i], false) {
			return false
		}
	}
	return true
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

func inPrefix(req string, pol pattern) bool {
	p, err := parsePrefix(pol.literal())
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(req)
	return err == nil && p.Masked().Contains(a.Unmap())
}

var operators = func() map[string]*operator {
	list := []*operator{
		{name: "StringEquals", vars: true, exactSet: true, cmp: exact(false)},
		{name: "StringNotEquals", vars: true, negated: true, exactSet: true, cmp: exact(false)},
		{name: "StringEqualsIgnoreCase", vars: true, fold: true, cmp: exact(true)},
		{name: "StringNotEqualsIgnoreCase", vars: true, fold: true, negated: true, cmp: exact(true)},
		{name: "StringLike", vars: true, like: true, cmp: like},
		{name: "StringNotLike", vars: true, like: true, negated: true, cmp: like},
		{name: "NumericEquals", check: checkNumber, cmp: numeric(func(a, b float64) bool { return a == b })},
		{name: "NumericNotEquals", check: checkNumber, negated: true, cmp: numeric(func(a, b float64) bool { return a == b })},
		{name: "NumericLessThan", check: checkNumber, cmp: numeric(func(a, b float64) bool { return a < b })},
		{name: "NumericLessThanEquals", check: checkNumber, cmp: numeric(func(a, b float64) bool { return a <= b })},
		{name: "NumericGreaterThan", check: checkNumber, cmp: numeric(func(a, b float64) bool { return a > b })},
		{name: "NumericGreaterThanEquals", check: checkNumber, cmp: numeric(func(a, b float64) bool { return a >= b })},
		{name: "DateEquals", check: checkDate, cmp: date(func(c, _ int) bool { return c == 0 })},
		{name: "DateNotEquals", check: checkDate, negated: true, cmp: date(func(c, _ int) bool { return c == 0 })},
		{name: "DateLessThan", check: checkDate, cmp: date(func(c, _ int) bool { return c < 0 })},
		{name: "DateLessThanEquals", check: checkDate, cmp: date(func(c, _ int) bool { return c <= 0 })},
		{name: "DateGreaterThan", check: checkDate, cmp: date(func(c, _ int) bool { return c > 0 })},
		{name: "DateGreaterThanEquals", check: checkDate, cmp: date(func(c, _ int) bool { return c >= 0 })},
		{name: "Bool", check: checkBool, cmp: exact(true)},
		{name: "ArnEquals", vars: true, like: true, check: checkARN, cmp: arnLike},
		{name: "ArnLike", vars: true, like: true, check: checkARN, cmp: arnLike},
		{name: "ArnNotEquals", vars: true, like: true, negated: true, check: checkARN, cmp: arnLike},
		{name: "ArnNotLike", vars: true, like: true, negated: true, check: checkARN, cmp: arnLike},
		{name: "IpAddress", check: checkIP, cmp: inPrefix},
		{name: "NotIpAddress", check: checkIP, negated: true, cmp: inPrefix},
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
	// compiled holds the values as patterns when none has a policy
	// variable, so evaluation does not rebuild them.
	compiled []pattern
	// set holds the values of an exact, case-sensitive operator
	// (StringEquals, StringNotEquals) when compiled, so that a long list
	// of values costs one lookup per request value.
	set map[string]bool
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
			p, _ := substitute(v, nil, false, c.op.like)
			c.compiled = append(c.compiled, p.compile(false))
		}
		if c.op.exactSet {
			c.set = make(map[string]bool, len(c.values))
			for _, v := range c.values {
				c.set[v] = true
			}
		}
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
func (c *condition) eval(keys Keys, vars bool) bool {
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
	pols := c.compiled
	if pols == nil {
		pols = make([]pattern, 0, len(c.values))
		for _, v := range c.values {
			if p, ok := substitute(v, keys, vars && c.op.vars, c.op.like); ok {
				pols = append(pols, p)
			}
		}
	}
	one := func(req string) bool {
		if c.set != nil {
			return c.set[req] != c.op.negated
		}
		hit := false
		for _, p := range pols {
			if c.op.cmp(req, p) {
				hit = true
				break
			}
		}
		return hit != c.op.negated
	}
	switch c.qual {
	case forAnyValue:
		for _, v := range got {
			if one(v) {
				return true
			}
		}
		return false
	case forAllValues:
		for _, v := range got {
			if !one(v) {
				return false
			}
		}
		return true
	}
	// Without a qualifier a multi-valued key matches when any of its
	// values does; a negated operator when none does.
	for _, v := range got {
		if one(v) != c.op.negated {
			return !c.op.negated
		}
	}
	return c.op.negated
}

// substitute replaces policy variables (${aws:username}, ${key, 'default'},
// ${*}, ${?}, ${$}) in a policy value. Substituted text is literal even in
// a glob. A variable whose key is absent (and has no default) makes the
// value match nothing: ok is false.
func substitute(v string, keys Keys, vars, isGlob bool) (pattern, bool) {
	var p pattern
	add := p.addLiteral
	if isGlob {
		add = p.addGlob
	}
	if !vars {
		add(v)
		return p, true
	}
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			break
		}
		add(v[:i])
		name := strings.TrimSpace(v[i+2 : i+j])
		v = v[i+j+1:]
		switch name {
		case "*", "?", "$":
			p.addLiteral(name)
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
			p.addLiteral(got[0])
		case hasDef:
			p.addLiteral(def)
		default:
			return pattern{}, false
		}
	}
	add(v)
	return p, true
}

func containsVariable(values []string) bool {
	for _, v := range values {
		if strings.Contains(v, "${") {
			return true
		}
	}
	return false
}
