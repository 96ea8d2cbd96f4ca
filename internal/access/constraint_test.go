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
