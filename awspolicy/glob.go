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

func (p pattern) hasWild() bool {
	for _, w := range p.wild {
		if w {
			return true
		}
	}
	return false
}

func (p pattern) star(i int) bool { return p.wild[i] && p.r[i] == '*' }

// match reports whether s matches the pattern; fold compares without case.
func (p pattern) match(s string, fold bool) bool {
	ok, _ := p.matchSteps(s, fold)
	return ok
}

// segment is the text between two *s: runes, and which of them are ?.
type segment struct {
	r []rune
	q []bool
}

func (g segment) hasQ() bool {
	for _, q := range g.q {
		if q {
			return true
		}
	}
	return false
}

// segments splits the pattern at its *s (folded to lower case when fold),
// so that there is always one more segment than there are *s.
func (p pattern) segments(fold bool) []segment {
	segs := []segment{{}}
	for i, c := range p.r {
		if p.star(i) {
			segs = append(segs, segment{})
			continue
		}
		if fold {
			c = unicode.ToLower(c)
		}
		g := &segs[len(segs)-1]
		g.r, g.q = append(g.r, c), append(g.q, p.wild[i])
	}
	return segs
}

// matchSteps matches without backtracking, and counts its steps (rune
// comparisons and bit-vector word operations) so that tests can bound
// them. Between two *s the leftmost occurrence of each segment is the
// right one to take (a later one leaves less text for what follows), so
// the text is scanned once: a segment without ? by Knuth-Morris-Pratt, in
// O(len(text)+len(segment)), a segment with ? by a bit-parallel automaton
// (shift-and), in O(len(text)*ceil(len(segment)/64)). The first and last
// segments are anchored to the ends of the text.
func (p pattern) matchSteps(s string, fold bool) (bool, int) {
	if !p.hasWild() {
		if fold {
			return strings.EqualFold(string(p.r), s), len(s)
		}
		return string(p.r) == s, len(s)
	}
	text := []rune(s)
	if fold {
		for i, c := range text {
			text[i] = unicode.ToLower(c)
		}
	}
	segs := p.segments(fold)
	first, last := segs[0], segs[len(segs)-1]
	if len(segs) == 1 {
		return len(text) == len(first.r) && fixedAt(first, text), len(first.r)
	}
	if len(text) < len(first.r)+len(last.r) {
		return false, 0
	}
	steps := len(first.r) + len(last.r)
	if !fixedAt(first, text) || !fixedAt(last, text[len(text)-len(last.r):]) {
		return false, steps
	}
	rest := text[len(first.r) : len(text)-len(last.r)]
	for _, g := range segs[1 : len(segs)-1] {
		if len(g.r) == 0 {
			continue
		}
		find := kmp
		if g.hasQ() {
			find = shiftAnd
		}
		i, n := find(g, rest)
		steps += n
		if i < 0 {
			return false, steps
		}
		rest = rest[i+len(g.r):]
	}
	return true, steps
}

// fixedAt reports whether text starts with the segment.
func fixedAt(g segment, text []rune) bool {
	if len(text) < len(g.r) {
		return false
	}
	for i, c := range g.r {
		if !g.q[i] && c != text[i] {
			return false
		}
	}
	return true
}

// kmp finds the leftmost occurrence of a segment without ? in text, or -1.
func kmp(g segment, text []rune) (int, int) {
	n, steps := len(g.r), 0
	if n > len(text) {
		return -1, 0
	}
	fail := make([]int, n)
	for i, k := 1, 0; i < n; i++ {
		for k > 0 && g.r[i] != g.r[k] {
			k = fail[k-1]
			steps++
		}
		if g.r[i] == g.r[k] {
			k++
		}
		fail[i] = k
		steps++
	}
	k := 0
	for j, c := range text {
		for k > 0 && c != g.r[k] {
			k = fail[k-1]
			steps++
		}
		if c == g.r[k] {
			k++
		}
		steps++
		if k == n {
			return j - n + 1, steps
		}
	}
	return -1, steps
}

// shiftAnd finds the leftmost occurrence of a segment with ? in text, or
// -1: bit i of the state is set when the segment's first i+1 runes match
// the text ending at the current rune.
func shiftAnd(g segment, text []rune) (int, int) {
	n := len(g.r)
	if n > len(text) {
		return -1, 0
	}
	words := (n + 63) / 64
	any := make([]uint64, words)
	masks := map[rune][]uint64{}
	for i, c := range g.r {
		w, bit := i/64, uint64(1)<<(i%64)
		if g.q[i] {
			any[w] |= bit
			continue
		}
		m := masks[c]
		if m == nil {
			m = make([]uint64, words)
			masks[c] = m
		}
		m[w] |= bit
	}
	state := make([]uint64, words)
	top, topBit := (n-1)/64, uint64(1)<<((n-1)%64)
	steps := 0
	for j, c := range text {
		m := masks[c]
		carry := uint64(1) // a match may start at every rune
		for w := range state {
			next := state[w] >> 63
			v := state[w]<<1 | carry
			carry = next
			mask := any[w]
			if m != nil {
				mask |= m[w]
			}
			state[w] = v & mask
			steps++
		}
		if state[top]&topBit != 0 {
			return j - n + 1, steps
		}
	}
	return -1, steps
}

// cost is what matching one rune of text against the pattern costs, in
// steps, when the pattern has wildcards (0 when it has none): the width of
// its widest ? segment in 64-bit words, and at least 1.
func (p pattern) cost() int {
	if !p.hasWild() {
		return 0
	}
	c := 1
	for _, g := range p.segments(false) {
		if g.hasQ() {
			c = max(c, (len(g.r)+63)/64)
		}
	}
	return c
}
