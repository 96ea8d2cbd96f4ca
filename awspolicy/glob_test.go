package awspolicy

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// globRegexp is an independent reading of a glob: * any run, ? one rune.
func globRegexp(p string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s)`)
	if fold {
		b.WriteString(`(?i)`)
	}
	for _, c := range p {
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// TestGlobMatchesRegexp compares the matcher with Go's regexp on random
// patterns and texts over a small alphabet, where near-misses abound.
func TestGlobMatchesRegexp(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	pick := func(alphabet string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	for i := range 20000 {
		p := pick("ab*?A:", rng.Intn(9))
		s := pick("abA:", rng.Intn(12))
		fold := i%2 == 0
		if got, want := glob(p).match(s, fold), globRegexp(p, fold).MatchString(s); got != want {
			t.Fatalf("glob %q on %q (fold %v) = %v, regexp says %v", p, s, fold, got, want)
		}
	}
	// Segments longer than one 64-bit word.
	long := "?" + strings.Repeat("ab", 40) + "?"
	if !glob("*"+long+"*").match("zz"+"x"+strings.Repeat("ab", 40)+"y"+"zz", false) {
		t.Error("a ? segment of 82 runes did not match")
	}
	if glob("*"+long+"*").match("zz"+"x"+strings.Repeat("ab", 39)+"y"+"zz", false) {
		t.Error("a ? segment of 82 runes matched a shorter text")
	}
}

// TestGlobIsLinear counts the matcher's steps on the inputs that made the
// old backtracking matcher quadratic (it retried the literal after the *
// at every offset of the text: about len(text)*len(literal) comparisons,
// here 8192*100 = 819,200 per pattern). The bound asserted is linear.
func TestGlobIsLinear(t *testing.T) {
	text := strings.Repeat("a", 8192)
	lit := strings.Repeat("a", 100)
	for _, p := range []string{
		"*" + lit + "b*",
		"*" + lit + "b",
		"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
		"*" + strings.Repeat("a?", 50) + "b*",
		"*" + strings.Repeat("?", 63) + "b*",
	} {
		ok, steps := glob(p).matcher(false).match(text)
		if ok {
			t.Fatalf("%q matched", p)
		}
		if limit := 3*(len(text)+len(p)) + 1; steps > limit {
			t.Errorf("pattern %q on %d runes took %d steps, more than %d", p[:min(len(p), 20)], len(text), steps, limit)
		}
	}
}

// FuzzGlob: the matcher agrees with Go's regexp on any pattern and text.
func FuzzGlob(f *testing.F) {
	f.Add("*a?b*", "xxaxbyy", false)
	f.Add("K*?ß", "kelvinſß", true)
	f.Add("s*", "ſx", true)
	f.Fuzz(func(t *testing.T, p, s string, fold bool) {
		if len(p) > 64 || len(s) > 256 || !utf8.ValidString(p) || !utf8.ValidString(s) {
			return
		}
		if got, want := glob(p).match(s, fold), globRegexp(p, fold).MatchString(s); got != want {
			t.Fatalf("glob %q on %q (fold %v) = %v, regexp says %v", p, s, fold, got, want)
		}
	})
}
