package awspolicy

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

var runeBuffers = sync.Pool{New: func() any { return new([]rune) }}

// pattern is a glob whose wildcards (* and ?) are marked, so that text
// substituted from a policy variable, or ${*}, matches literally.
type pattern struct {
	r    []rune
	wild []bool
	// m is the prepared matcher (compile), or nil.
	m *matcher
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
	ok, _ := p.matcher(fold).match(s)
	return ok
}

// compile returns the pattern with its matcher built, so that matching it
// many times (a condition value against every request value) allocates
// and prepares nothing.
func (p pattern) compile(fold bool) pattern {
	p.m = newMatcher(p, fold)
	return p
}

func (p pattern) matcher(fold bool) *matcher {
	if p.m != nil && p.m.fold == fold {
		return p.m
	}
	return newMatcher(p, fold)
}

// segment is the text between two *s: runes, and which of them are ?,
// with what finding it in a text takes: a KMP failure table when it has
// no ?, the masks of a shift-and automaton when it has.
type segment struct {
	r    []rune
	q    []bool
	hasQ bool
	fail []int
	// shift-and: per rune, the positions it matches; anyMask, the ?s.
	masks   map[rune][]uint64
	anyMask []uint64
}

func (g segment) words() int { return (len(g.r) + 63) / 64 }

// matcher matches text against a pattern without backtracking. Between
// two *s the leftmost occurrence of a segment is the one to take (a later
// one leaves less text for what follows), so the text is scanned once: a
// segment without ? by Knuth-Morris-Pratt, in O(len(text)+len(segment)), a
// segment with ? by a bit-parallel automaton (shift-and), in
// O(len(text)*ceil(len(segment)/64)). The first and last segments are
// anchored to the ends of the text.
type matcher struct {
	fold    bool
	literal string // the pattern, when it has no wildcard
	wild    bool
	// segs has one more element than the pattern has *s.
	segs []segment
}

func newMatcher(p pattern, fold bool) *matcher {
	m := &matcher{fold: fold, wild: p.hasWild()}
	if !m.wild {
		m.literal = string(p.r)
		return m
	}
	m.segs = []segment{{}}
	for i, c := range p.r {
		if p.star(i) {
			m.segs = append(m.segs, segment{})
			continue
		}
		if fold {
			c = foldRune(c)
		}
		g := &m.segs[len(m.segs)-1]
		g.r, g.q = append(g.r, c), append(g.q, p.wild[i])
		g.hasQ = g.hasQ || p.wild[i]
	}
	for i := range m.segs {
		prepare(&m.segs[i])
	}
	return m
}

// prepare builds what finding the segment takes.
func prepare(g *segment) {
	n := len(g.r)
	if !g.hasQ {
		g.fail = make([]int, n)
		for i, k := 1, 0; i < n; i++ {
			for k > 0 && g.r[i] != g.r[k] {
				k = g.fail[k-1]
			}
			if g.r[i] == g.r[k] {
				k++
			}
			g.fail[i] = k
		}
		return
	}
	w := g.words()
	g.anyMask = make([]uint64, w)
	g.masks = map[rune][]uint64{}
	for i, c := range g.r {
		word, bit := i/64, uint64(1)<<(i%64)
		if g.q[i] {
			g.anyMask[word] |= bit
			continue
		}
		m := g.masks[c]
		if m == nil {
			m = make([]uint64, w)
			g.masks[c] = m
		}
		m[word] |= bit
	}
}

// match reports whether s matches, and counts the steps taken (rune
// comparisons and bit-vector word operations), so that tests can bound
// them.
func (m *matcher) match(s string) (bool, int) {
	if !m.wild {
		if m.fold {
			return strings.EqualFold(m.literal, s), len(s)
		}
		return m.literal == s, len(s)
	}
	if !m.fold && isASCII(s) {
		// Most texts are ASCII: matched as the string's own bytes, they
		// need no conversion. The bytes are only read.
		return matchText(m, unsafe.Slice(unsafe.StringData(s), len(s)))
	}
	// Other texts are converted into a pooled buffer, so matching a long
	// one against many patterns does not allocate for each.
	pooled := runeBuffers.Get().(*[]rune)
	text := m.runes((*pooled)[:0], s)
	ok, steps := matchText(m, text)
	*pooled = text[:0]
	runeBuffers.Put(pooled)
	return ok, steps
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// runes appends the text's runes to dst, folded when the match folds.
func (m *matcher) runes(dst []rune, s string) []rune {
	for _, c := range s {
		if m.fold {
			c = foldRune(c)
		}
		dst = append(dst, c)
	}
	return dst
}

// matchText matches a text of bytes (ASCII) or runes.
func matchText[T byte | rune](m *matcher, text []T) (bool, int) {
	first, last := m.segs[0], m.segs[len(m.segs)-1]
	if len(m.segs) == 1 {
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
	for _, g := range m.segs[1 : len(m.segs)-1] {
		if len(g.r) == 0 {
			continue
		}
		var i, n int
		if g.hasQ {
			i, n = shiftAnd(&g, rest)
		} else {
			i, n = kmp(&g, rest)
		}
		steps += n
		if i < 0 {
			return false, steps
		}
		rest = rest[i+len(g.r):]
	}
	return true, steps
}

// fixedAt reports whether text starts with the segment.
func fixedAt[T byte | rune](g segment, text []T) bool {
	if len(text) < len(g.r) {
		return false
	}
	for i, c := range g.r {
		if !g.q[i] && c != rune(text[i]) {
			return false
		}
	}
	return true
}

// kmp finds the leftmost occurrence of a segment without ? in text, or -1.
func kmp[T byte | rune](g *segment, text []T) (int, int) {
	n, steps := len(g.r), 0
	if n > len(text) {
		return -1, 0
	}
	k := 0
	for j, t := range text {
		c := rune(t)
		for k > 0 && c != g.r[k] {
			k = g.fail[k-1]
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
func shiftAnd[T byte | rune](g *segment, text []T) (int, int) {
	n := len(g.r)
	if n > len(text) {
		return -1, 0
	}
	var one [1]uint64
	state := one[:]
	if w := g.words(); w > 1 {
		state = make([]uint64, w)
	}
	top, topBit := (n-1)/64, uint64(1)<<((n-1)%64)
	steps := 0
	for j, c := range text {
		m := g.masks[rune(c)]
		carry := uint64(1) // a match may start at every rune
		for w := range state {
			next := state[w] >> 63
			mask := g.anyMask[w]
			if m != nil {
				mask |= m[w]
			}
			state[w] = (state[w]<<1 | carry) & mask
			carry = next
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
	for _, g := range newMatcher(p, false).segs {
		if g.hasQ {
			c = max(c, g.words())
		}
	}
	return c
}

// foldRune maps a rune to the least rune of its case-folding orbit, so that
// two runes fold to the same one exactly when strings.EqualFold holds
// (unicode.ToLower alone misses pairs such as s and ſ).
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
