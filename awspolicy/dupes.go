package awspolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// CheckDuplicateMembers refuses a JSON document in which an object, at any
// depth, names a member twice. encoding/json keeps the last of them while
// a reader (and GetKeyPolicy's caller) sees the first, so a policy that
// says {"Effect":"Deny", ..., "Effect":"Allow"} would be enforced as the
// opposite of what it shows. Syntax errors are left to the parser that
// follows. The error names the member by its path (Statement[0].Effect).
func CheckDuplicateMembers(doc string) error {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var stack []*jsonFrame
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return nil
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			key, _ := tok.(string)
			if top.seen[key] {
				return malformed(jsonPath(stack, key), "is given twice; every member of a policy object must be unique")
			}
			top.seen[key] = true
			top.key, top.wantKey = key, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonFrame{object: true, wantKey: true, seen: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &jsonFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
}

// jsonFrame is an object or array being read.
type jsonFrame struct {
	object  bool
	wantKey bool
	seen    map[string]bool
	key     string // the object's current member
	index   int    // the array's current element
}

// valueDone moves the innermost frame past the value just read.
func valueDone(stack []*jsonFrame) {
	if len(stack) == 0 {
		return
	}
	if top := stack[len(stack)-1]; top.object {
		top.wantKey = true
	} else {
		top.index++
	}
}

// jsonPath names member key of the innermost object: Statement[1].Condition.
func jsonPath(stack []*jsonFrame, key string) string {
	var b bytes.Buffer
	for _, f := range stack[:len(stack)-1] {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
	return b.String()
}
