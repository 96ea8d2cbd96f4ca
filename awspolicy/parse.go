package awspolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// MaxSize is AWS's key policy size limit.
const MaxSize = 32 * 1024

// Versions of the policy language AWS accepts. Policy variables exist
// only in 2012-10-17.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Error is a malformed policy document; Element names the element at
// fault (Statement[1].Condition, Version, ...).
type Error struct {
	Element string
	Msg     string
}

func (e *Error) Error() string {
	if e.Element == "" {
		return e.Msg
	}
	return e.Element + ": " + e.Msg
}

func malformed(element, format string, args ...any) error {
	return &Error{Element: element, Msg: fmt.Sprintf(format, args...)}
}

// Actions is the set of valid action names, without the "kms:" prefix.
type Actions map[string]bool

// NewActions builds the set from names such as "Encrypt".
func NewActions(names ...string) Actions {
	a := Actions{}
	for _, n := range names {
		a[strings.ToLower(n)] = true
	}
	return a
}

// Policy is a parsed AWS key policy.
type Policy struct {
	Version    string
	ID         string
	Statements []*Statement
}

// Statement is one parsed statement.
type Statement struct {
	Sid    string
	Effect string // Allow or Deny
	index  int

	principals   []Principal
	notPrincipal bool
	actions      []pattern // lower-cased; "*" is every action
	notAction    bool
	resources    []resource
	notResource  bool
	conditions   []*condition
}

// Name is the statement's Sid, or its position when it has none.
func (s *Statement) Name() string {
	if s.Sid != "" {
		return s.Sid
	}
	return fmt.Sprintf("statement %d", s.index)
}

const (
	effectAllow = "Allow"
	effectDeny  = "Deny"
)

// Parse reads and validates an AWS key policy document. actions is the
// set of action names a kms: action may name.
func Parse(doc string, actions Actions) (*Policy, error) {
	if len(doc) > MaxSize {
		return nil, malformed("", "the policy is larger than %d bytes", MaxSize)
	}
	if err := CheckDuplicateMembers(doc); err != nil {
		return nil, err
	}
	top, err := object([]byte(doc), "the policy")
	if err != nil {
		return nil, err
	}
	p := &Policy{Version: Version2008}
	var stmts json.RawMessage
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != Version2012 && p.Version != Version2008) {
				return nil, malformed("Version", "must be %q (or %q)", Version2012, Version2008)
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed("Id", "must be a string")
			}
		case "Statement":
			stmts = v
		default:
			return nil, malformed(k, "is not an element of a key policy (Version, Id, Statement)")
		}
	}
	if stmts == nil {
		return nil, malformed("Statement", "is required")
	}
	var raws []json.RawMessage
	if t := bytes.TrimSpace(stmts); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &raws); err != nil {
			return nil, malformed("Statement", "must be a statement or a list of statements")
		}
		if len(raws) == 0 {
			return nil, malformed("Statement", "has no statements")
		}
	} else {
		raws = []json.RawMessage{stmts}
	}
	sids := map[string]bool{}
	for i, raw := range raws {
		s, err := parseStatement(raw, i, p.Version, actions)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, malformed(fmt.Sprintf("Statement[%d].Sid", i), "%q is not unique", s.Sid)
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
	}
	if err := p.checkBudget(); err != nil {
		return nil, err
	}
	return p, nil
}

// object decodes one JSON object, refusing anything after it.
func object(raw []byte, what string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, malformed("", "%s is not a JSON object", what)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("", "%s has data after the document", what)
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stringList reads a string or a list of strings.
func stringList(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, false
	}
	return list, true
}

func parseStatement(raw json.RawMessage, i int, version string, actions Actions) (*Statement, error) {
	at := func(el string) string { return fmt.Sprintf("Statement[%d].%s", i, el) }
	m, err := object(raw, fmt.Sprintf("Statement[%d]", i))
	if err != nil {
		return nil, err
	}
	s := &Statement{index: i}
	seen := map[string]bool{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		seen[k] = true
		switch k {
		case "Sid":
			if json.Unmarshal(v, &s.Sid) != nil {
				return nil, malformed(at(k), "must be a string")
			}
		case "Effect":
			if json.Unmarshal(v, &s.Effect) != nil || (s.Effect != effectAllow && s.Effect != effectDeny) {
				return nil, malformed(at(k), "must be Allow or Deny")
			}
		case "Principal", "NotPrincipal":
			if s.principals, err = parsePrincipals(v); err != nil {
				return nil, malformed(at(k), "%v", err)
			}
			s.notPrincipal = k == "NotPrincipal"
		case "Action", "NotAction":
			list, ok := stringList(v)
			if !ok {
				return nil, malformed(at(k), "must be an action or a list of actions")
			}
			for _, a := range list {
				p, err := parseAction(a, actions)
				if err != nil {
					return nil, malformed(at(k), "%v", err)
				}
				s.actions = append(s.actions, p)
			}
			s.notAction = k == "NotAction"
		case "Resource", "NotResource":
			list, ok := stringList(v)
			if !ok {
				return nil, malformed(at(k), "must be a resource or a list of resources")
			}
			for _, r := range list {
				res, err := parseResource(r, version)
				if err != nil {
					return nil, malformed(at(k), "%v", err)
				}
				s.resources = append(s.resources, res)
			}
			s.notResource = k == "NotResource"
		case "Condition":
			if s.conditions, err = parseConditions(v, version); err != nil {
				return nil, malformed(at(k), "%v", err)
			}
		default:
			return nil, malformed(at(k), "is not an element of a key policy statement")
		}
	}
	for _, pair := range [][2]string{{"Principal", "NotPrincipal"}, {"Action", "NotAction"}, {"Resource", "NotResource"}} {
		switch {
		case seen[pair[0]] && seen[pair[1]]:
			return nil, malformed(at(pair[0]), "give %s or %s, not both", pair[0], pair[1])
		case !seen[pair[0]] && !seen[pair[1]]:
			return nil, malformed(at(pair[0]), "is required (or %s)", pair[1])
		}
	}
	if !seen["Effect"] {
		return nil, malformed(at("Effect"), "is required")
	}
	return s, nil
}

func parseAction(a string, actions Actions) (pattern, error) {
	if a == "*" {
		return glob("*").compile(true), nil
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || !strings.EqualFold(service, "kms") || name == "" {
		return pattern{}, fmt.Errorf("%q is not a kms: action", a)
	}
	if !strings.ContainsAny(name, "*?") && !actions[strings.ToLower(name)] && !IsAWSAction(name) {
		return pattern{}, fmt.Errorf("%q is not an action of AWS KMS", a)
	}
	return glob(strings.ToLower(a)).compile(true), nil
}

// parsePrincipals reads "*" or {"AWS": ..., "Vault": ..., "Service": ...}.
func parsePrincipals(raw json.RawMessage) ([]Principal, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf(`must be "*" or an object such as {"AWS": "arn:aws:iam::111122223333:root"}`)
		}
		return []Principal{{raw: "*", kind: kindAnyone}}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil, fmt.Errorf(`must be "*" or an object with AWS, Vault or Service`)
	}
	var out []Principal
	for _, k := range sortedKeys(m) {
		list, ok := stringList(m[k])
		if !ok {
			return nil, fmt.Errorf("%s must be a string or a list of strings", k)
		}
		for _, v := range list {
			var p Principal
			var err error
			switch k {
			case "AWS":
				if p, ok, err = parseVaultForm(v); !ok {
					p, err = parseAWSPrincipal(v)
				}
			case "Vault":
				if p, ok, err = parseVaultForm(v); !ok {
					err = fmt.Errorf("Vault principal %q must be entity:<id>, entity_name:<name>, group:<name>, group_id:<id> or no_entity", v)
				}
			case "Service":
				// AWS service principals are kept but match no Vault identity.
				if v == "" {
					err = fmt.Errorf("Service principal is empty")
				}
				p = Principal{raw: v, kind: kindNobody}
			default:
				return nil, fmt.Errorf("%q is not a principal type (AWS, Vault or Service)", k)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// parseConditions reads {"Operator": {"key": value or [values]}}.
func parseConditions(raw json.RawMessage, version string) ([]*condition, error) {
	var ops map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil || len(ops) == 0 {
		return nil, fmt.Errorf(`must be an object such as {"StringEquals": {"kms:EncryptionContext:app": "payments"}}`)
	}
	var out []*condition
	for _, name := range sortedKeys(ops) {
		var keys map[string]json.RawMessage
		if json.Unmarshal(ops[name], &keys) != nil || len(keys) == 0 {
			return nil, fmt.Errorf("%s must be an object of condition keys", name)
		}
		for _, key := range sortedKeys(keys) {
			c, err := parseOperator(name)
			if err != nil {
				return nil, err
			}
			if key == "" {
				return nil, fmt.Errorf("%s has an empty condition key", name)
			}
			if !c.null && c.qual == single && IsMultivalued(key) {
				return nil, fmt.Errorf("%s is a multivalued condition key: %s needs a set operator, ForAnyValue:%s or ForAllValues:%s", key, name, name, name)
			}
			c.key = strings.ToLower(key)
			if c.values, err = conditionValues(keys[key]); err != nil {
				return nil, fmt.Errorf("%s on %s: %v", name, key, err)
			}
			if err := c.validate(version == Version2012); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a string, number or boolean, or a list of them,
// as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, err
		}
	} else {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, err
		}
		switch t := x.(type) {
		case string:
			out = append(out, t)
		case json.Number:
			out = append(out, t.String())
		case bool:
			out = append(out, fmt.Sprint(t))
		default:
			return nil, fmt.Errorf("values must be strings, numbers or booleans")
		}
	}
	return out, nil
}
