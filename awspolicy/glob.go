package awspolicy

import (
	"strings"
	"unicode"
)

// pattern is a glob whose wildcards (* and ?) are marked, so that text
// substituted from a policy variable, or ${*}, matches literally.
type pattern struct {
	r    []rune
	wild []bool
}

func (p *pattern) addLiteral(s string) {
	for _, c := range s {
		p.r, p.wild = append(p.r, c), append(p.wild, false)
	}
}

func (p *pattern) addGlob(s string) {
	for _, c := range s {
		p.r, p.wild = append(p.r, c), append(p.wild, c == '*' || c == '?')
	}
}

func glob(s string) pattern {
	var p pattern
	p.addGlob(s)
	return p
}

func (p pattern) literal() string {
	return string(p.r)
}

// match reports whether s matches the pattern; fold compares without case.
// It backtracks only to the last *, so it runs in O(len(p)*len(s)).
func (p pattern) match(s string, fold bool) bool {
	eq := func(a, b rune) bool {
		return a == b || fold && unicode.ToLower(a) == unicode.ToLower(b)
	}
	pr := p.r
	// Fast path: a pattern without wildcards is a comparison.
	if !p.hasWild() {
		if fold {
			return strings.EqualFold(string(pr), s)
		}
		return string(pr) == s
	}
	sr := []rune(s)
	star := func(i int) bool { return i < len(pr) && p.wild[i] && pr[i] == '*' }
	pi, si := 0, 0
	last, mark := -1, 0
	for si < len(sr) {
		switch {
		case star(pi):
			last, mark = pi, si
			pi++
		case pi < len(pr) && (p.wild[pi] || eq(pr[pi], sr[si])):
			// a wildcard here that is not * is ?
			pi++
			si++
		case last >= 0:
			pi = last + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for star(pi) {
		pi++
	}
	return pi == len(pr)
}

func (p pattern) hasWild() bool {
	for _, w := range p.wild {
		if w {
			return true
		}
	}
	return false
}
