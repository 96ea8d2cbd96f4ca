package access

import "testing"

func TestConstraintMatches(t *testing.T) {
	eq := &Constraint{Equals: map[string]string{"a": "1", "b": "2"}}
	sub := &Constraint{Subset: map[string]string{"a": "1"}}
	cases := []struct {
		m    *Constraint
		ec   map[string]string
		has  bool
		want bool
	}{
		{nil, nil, false, true},
		{nil, map[string]string{"x": "y"}, true, true},
		{eq, map[string]string{"a": "1", "b": "2"}, true, true},
		{eq, map[string]string{"a": "1"}, true, false},
		{eq, map[string]string{"a": "1", "b": "2", "c": "3"}, true, false},
		{eq, map[string]string{"a": "1", "b": "3"}, true, false},
		{eq, nil, true, false},
		{eq, map[string]string{"a": "1", "b": "2"}, false, false}, // operation without a context
		{sub, map[string]string{"a": "1"}, true, true},
		{sub, map[string]string{"a": "1", "z": "9"}, true, true},
		{sub, map[string]string{"a": "2"}, true, false},
		{sub, map[string]string{"A": "1"}, true, true},  // keys compare without case (issue 21, item 12)
		{sub, map[string]string{"a": "A"}, true, false}, // values with case
		// Found by the attacker's review: a key spelled twice answers the
		// constraint only if both spellings hold its value.
		{sub, map[string]string{"a": "2", "A": "1"}, true, false},
		{sub, map[string]string{"A": "1", "a": "2"}, true, false},
		{sub, map[string]string{"a": "1", "A": "1"}, true, true},
		{eq, map[string]string{"a": "1", "b": "2", "B": "3"}, true, false},
		{sub, map[string]string{}, true, false},
		{sub, nil, false, false},
		{&Constraint{Equals: map[string]string{}}, map[string]string{}, true, true},
		{&Constraint{Equals: map[string]string{}}, map[string]string{"a": "1"}, true, false},
	}
	for i, c := range cases {
		if got := c.m.Matches(c.ec, c.has); got != c.want {
			t.Fatalf("case %d: got %v, want %v", i, got, c.want)
		}
	}
}

// A constraint whose keys differ only in case is refused: keys compare
// without case, so it would be one key with two values.
func TestConstraintKeysDifferingOnlyInCase(t *testing.T) {
	if err := CheckConstraint(map[string]string{"dept": "hr", "Dept": "finance"}); err == nil {
		t.Fatal("a constraint with dept and Dept was accepted")
	}
	if err := CheckConstraint(map[string]string{"dept": "hr", "team": "a"}); err != nil {
		t.Fatal(err)
	}
}
