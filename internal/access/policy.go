package access

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// policyActions are the action names a key policy may use after "kms:":
// every operation of the operation table.
var policyActions = func() awspolicy.Actions {
	names := make([]string, 0, len(Operations))
	for op := range Operations {
		names = append(names, op)
	}
	return awspolicy.NewActions(names...)
}()

// ParsePolicy reads and validates a key policy document in AWS's key
// policy language, the plugin's one policy language. Every problem is a
// MalformedPolicyDocumentException naming what is wrong.
func ParsePolicy(doc string) (*awspolicy.Policy, error) {
	p, err := awspolicy.Parse(doc, policyActions)
	if err != nil {
		if isPreReleaseFormat(doc) {
			return nil, kmserr.New(kmserr.MalformedPolicy, "%s", errPreReleaseFormat)
		}
		var pe *awspolicy.Error
		if errors.As(err, &pe) {
			return nil, kmserr.New(kmserr.MalformedPolicy, "%s", pe.Error())
		}
		return nil, err
	}
	return p, nil
}

const errPreReleaseFormat = `the plugin's pre-release policy format ({"statements": [...]}) is no longer accepted: ` +
	`write the policy in AWS's key policy language (Version, Statement with Sid, Effect, Principal, Action, Resource, Condition)`

// isPreReleaseFormat tells a document of the plugin's pre-release format
// by its shape, to name the fault rather than its first unknown member.
func isPreReleaseFormat(doc string) bool {
	var top map[string]json.RawMessage
	if json.NewDecoder(strings.NewReader(doc)).Decode(&top) != nil {
		return false
	}
	_, ok := top["statements"]
	return ok
}

// RefusedPolicySid names the statement that stands in for a stored policy
// document the parser refuses (one of the plugin's pre-release
// {"statements": [...]} format, or one stored before the parser came to
// refuse something it holds): the key denies everything until an operator
// replaces its policy through kms/policy-recovery/<key>.
const RefusedPolicySid = "StoredPolicyNoLongerValid-ReplaceItThroughPolicyRecovery"

// RefusedPolicy is enforced in place of a stored document that does not
// parse: such a document has no one meaning, so it is not guessed at.
var RefusedPolicy = func() *awspolicy.Policy {
	p, err := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"` + RefusedPolicySid + `",` +
		`"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`)
	if err != nil {
		panic(err)
	}
	return p
}()

// StoredPolicy parses a key's stored policy document; one that no longer
// parses is enforced as RefusedPolicy, so the key still loads and the sudo
// recovery path can replace its policy.
func StoredPolicy(doc string) *awspolicy.Policy {
	p, err := ParsePolicy(doc)
	if err != nil {
		return RefusedPolicy
	}
	return p
}

// ParseStoredPolicy is StoredPolicy in the shape of the key store's
// injected parser (keystore's ParsePolicy): it never fails, so that a key
// whose stored document no longer parses still loads, denying everything.
func ParseStoredPolicy(doc string) (*awspolicy.Policy, error) {
	return StoredPolicy(doc), nil
}

// DefaultPolicyText is AWS's default key policy, which delegates to IAM;
// here the account root stands for every caller Vault's ACL lets through.
func DefaultPolicyText(a awspolicy.Account) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"` +
		a.IAM("root") + `"},"Action":"kms:*","Resource":"*"}]}`
}

// defaultPolicies caches the parsed default policy per account.
var defaultPolicies sync.Map

// DefaultPolicy is the policy of a key without one, for the mount's account.
func DefaultPolicy(a awspolicy.Account) *awspolicy.Policy {
	if p, ok := defaultPolicies.Load(a); ok {
		return p.(*awspolicy.Policy)
	}
	p, err := ParsePolicy(DefaultPolicyText(a))
	if err != nil {
		panic(err) // the text above is a constant apart from validated config values
	}
	defaultPolicies.Store(a, p)
	return p
}
