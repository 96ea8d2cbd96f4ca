package kms

import (
	"encoding/json"
	"fmt"
	"strings"
)

// checkLegacyFieldCase refuses a first-format document in which two
// members of one object name the same field in different case
// ("effect" and "Effect"): encoding/json matches field names without case
// and keeps the last, while a reader, and CheckDuplicateMembers, see two
// members, so the policy shown would not be the policy enforced. Objects
// that are data (encryption context maps) keep case-sensitive keys.
func checkLegacyFieldCase(doc string) error {
	top, err := legacyObject([]byte(doc), "", "statements")
	if err != nil || top == nil {
		return err
	}
	var stmts []json.RawMessage
	if json.Unmarshal(top["statements"], &stmts) != nil {
		return nil // the decoder names the fault
	}
	for i, raw := range stmts {
		at := fmt.Sprintf("statements[%d]", i)
		s, err := legacyObject(raw, at, "sid", "effect", "principals", "operations", "conditions")
		if err != nil || s == nil {
			return err
		}
		if _, err := legacyObject(s["conditions"], at+".conditions", "encryption_context_equals", "encryption_context_subset"); err != nil {
			return err
		}
	}
	return nil
}

// legacyObject decodes raw as an object whose members are the given field
// names (any case), each given once; it returns the members by field name,
// or nil when raw is not an object (the decoder names that fault).
func legacyObject(raw json.RawMessage, at string, fields ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil, nil
	}
	byField := map[string]json.RawMessage{}
	for name, v := range m {
		for _, f := range fields {
			if !strings.EqualFold(name, f) {
				continue
			}
			if _, dup := byField[f]; dup {
				where := f
				if at != "" {
					where = at + "." + f
				}
				return nil, fmt.Errorf("%s is given twice, in different case; every member of a policy object must be unique", where)
			}
			byField[f] = v
		}
	}
	return byField, nil
}
