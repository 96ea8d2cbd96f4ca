package awspolicy

import "strings"

// multivaluedKeys are the condition keys whose request value is a set
// (ArrayOfString in the Service Authorization Reference): the multivalued
// keys the plugin answers, and AWS's global ones. IAM gives a bare
// operator on them no defined meaning ("multivalued context keys require a
// condition set operator"), and either reading would let an Allow admit
// more, or a Deny cover less, than its writer meant; so such a condition
// is refused and its writer chooses ForAnyValue: or ForAllValues:.
//
// A set operator on a single-valued key is accepted, as AWS accepts it
// (its documentation advises against it, as ForAllValues then passes when
// the key is absent): the key's one value is a set of one.
var multivaluedKeys = map[string]bool{
	"kms:encryptioncontextkeys":     true,
	"kms:grantoperations":           true,
	"kms:resourcealiases":           true,
	"aws:tagkeys":                   true,
	"aws:calledvia":                 true,
	"aws:principalservicenameslist": true,
	"aws:principalorgpaths":         true,
	"aws:resourceorgpaths":          true,
	"aws:sourceorgpaths":            true,
}

// IsMultivalued reports whether the condition key (any case) is a set.
func IsMultivalued(key string) bool {
	return multivaluedKeys[strings.ToLower(key)]
}
