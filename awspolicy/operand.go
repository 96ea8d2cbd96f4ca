package awspolicy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// operand is one side of a condition comparison, read once: a policy
// value when the policy is parsed (or, when it holds a policy variable,
// once per evaluation after substitution), a request value once per
// evaluation. Comparing then parses, converts and allocates nothing, so a
// condition with many values against a key with many values (a
// ForAnyValue over kms:EncryptionContextKeys) costs one cheap comparison
// per pair, not a number, date or glob parsed afresh for each.
type operand struct {
	s string
	// pat is a like operator's policy glob, with its matcher built.
	pat pattern
	// arn holds an ARN's six parts: the request's texts, or the policy's
	// globs (compiled); anyARN is the policy value "*".
	arn    []string
	arnPat []pattern
	anyARN bool
	// ok: the number, date or address below was read.
	ok     bool
	num    float64
	t      time.Time
	addr   netip.Addr
	prefix netip.Prefix
}

type operandKind int

const (
	kindString operandKind = iota
	kindNumber
	kindDate
	kindARN
	kindIP
)

// policyOperand reads a (substituted) policy value for the operator: the
// glob p for a like operator, the text s for the others.
func (o *operator) policyOperand(s string, p pattern) operand {
	v := operand{s: s}
	var err error
	switch o.kind {
	case kindNumber:
		v.num, err = parseNumber(v.s)
	case kindDate:
		v.t, err = parseDate(v.s)
	case kindIP:
		v.prefix, err = parsePrefix(v.s)
		v.prefix = v.prefix.Masked()
	case kindARN:
		v.arnPat, v.anyARN = arnPatterns(p)
	default:
		if o.like {
			v.pat = p.compile(false)
		}
	}
	v.ok = err == nil
	return v
}

// requestOperand reads a request value for the operator; for an operator
// without case, s is the value's foldKey, which compares as the value does.
func (o *operator) requestOperand(s string) operand {
	v := operand{s: s}
	if o.fold {
		v.s = foldKey(s)
	}
	var err error
	switch o.kind {
	case kindNumber:
		v.num, err = parseNumber(s)
	case kindDate:
		v.t, err = parseDate(s)
	case kindIP:
		v.addr, err = netip.ParseAddr(s)
		v.addr = v.addr.Unmap()
	case kindARN:
		if v.arn = strings.SplitN(s, ":", 6); len(v.arn) != 6 {
			v.arn = nil
		}
	}
	v.ok = err == nil
	return v
}

func exact(fold bool) func(req, pol *operand) bool {
	return func(req, pol *operand) bool {
		if fold {
			return strings.EqualFold(req.s, pol.s)
		}
		return req.s == pol.s
	}
}

func like(req, pol *operand) bool { return pol.pat.match(req.s, false) }

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = fmt.Errorf("not a finite number")
	}
	return f, err
}

func numeric(test func(a, b float64) bool) func(req, pol *operand) bool {
	return func(req, pol *operand) bool {
		return req.ok && pol.ok && test(req.num, pol.num)
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

func date(test func(a, b int) bool) func(req, pol *operand) bool {
	return func(req, pol *operand) bool {
		return req.ok && pol.ok && test(req.t.Compare(pol.t), 0)
	}
}

func inPrefix(req, pol *operand) bool {
	return req.ok && pol.ok && pol.prefix.Contains(req.addr)
}

// arnPatterns splits an ARN glob into its six parts
// (arn:partition:service:region:account:resource), each compiled; any is
// the glob "*". A glob of another shape has no parts and matches nothing.
func arnPatterns(pol pattern) (parts []pattern, any bool) {
	if len(pol.r) == 1 && pol.wild[0] && pol.r[0] == '*' {
		return nil, true
	}
	cur := pattern{}
	for i, c := range pol.r {
		if c == ':' && !pol.wild[i] && len(parts) < 5 {
			parts = append(parts, cur.compile(false))
			cur = pattern{}
			continue
		}
		cur.r, cur.wild = append(cur.r, c), append(cur.wild, pol.wild[i])
	}
	parts = append(parts, cur.compile(false))
	if len(parts) != 6 {
		return nil, false
	}
	return parts, false
}

// arnLike compares ARNs part by part, each part a glob, as ArnLike and
// ArnEquals do (and Resource): a wildcard never spans a ":" of the first
// five.
func arnLike(req, pol *operand) bool {
	if pol.anyARN {
		return true
	}
	if req.arn == nil || pol.arnPat == nil {
		return false
	}
	for i := range pol.arnPat {
		if !pol.arnPat[i].match(req.arn[i], false) {
			return false
		}
	}
	return true
}

// foldKey is a text's key for a case-insensitive set: two texts have the
// same key exactly when strings.EqualFold holds.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		b.WriteRune(foldRune(c))
	}
	return b.String()
}

// requestReads are request values read as operands, by key and by how the
// operator reads them, once per evaluation: many conditions on one key
// with many values (ForAllValues on kms:EncryptionContextKeys, in as many
// statements, or under case variants of its name) would otherwise parse
// each value once per condition.
type requestReads map[readKey][]operand

type readKey struct {
	key  string
	kind operandKind
	fold bool
}

// of returns the values of key read for o, from r when it holds them (r
// may be nil: read, not kept).
func (r *requestReads) of(o *operator, key string, values []string) []operand {
	k := readKey{key, o.kind, o.fold}
	if r != nil {
		if got, ok := (*r)[k]; ok {
			return got
		}
	}
	out := make([]operand, len(values))
	for i, s := range values {
		out[i] = o.requestOperand(s)
	}
	if r != nil {
		if *r == nil {
			*r = requestReads{}
		}
		(*r)[k] = out
	}
	return out
}
