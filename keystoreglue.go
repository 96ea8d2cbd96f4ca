package kms

import (
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// keyStoreDeps wires the key store to the backend: its clock (tests move
// it), its logger, the token key material ids are made under, and the key
// policy parser.
func (b *backend) keyStoreDeps() keystore.Deps {
	return keystore.Deps{
		Now:           func() time.Time { return b.now() },
		Random:        func() io.Reader { return b.random },
		Logger:        func() hclog.Logger { return b.Logger() },
		WriteSafe:     func() bool { return b.WriteSafeReplicationState() },
		TokenKey:      b.tokenKey,
		ARNs:          b.arns,
		DeleteGrants:  b.deleteAllGrants,
		ParsePolicy:   parseStoredAWSPolicy,
		RefusedPolicy: storedPolicyRefused.aws,
		CompilePolicy: compileStoredPolicy,
	}
}

// parseStoredAWSPolicy gives keystore.Key.ParsedPolicy: the AWS policy of
// a stored document (nil for one of the first format, which the root
// evaluates through Key.Compiled until that format is removed).
func parseStoredAWSPolicy(doc string) (*awspolicy.Policy, error) {
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, err
	}
	return p.aws, nil
}

// compileStoredPolicy gives keystore.Key.Compiled: the root's parse of a
// stored document. One the parser now refuses (a duplicate member, a bare
// operator on a multivalued key, ...) has no one meaning: it is enforced
// as "deny everything" rather than guessed at, and the key still loads, so
// that the sudo recovery path can replace it.
func compileStoredPolicy(doc string) any {
	p, err := parsePolicy(doc)
	if err != nil {
		return storedPolicyRefused
	}
	return p
}

// policyOf returns the key's parsed policy (the default when it has none).
func policyOf(e *keyEntry) *keyPolicy {
	if p, ok := e.Compiled.(*keyPolicy); ok && p != nil {
		return p
	}
	return defaultPolicy
}

// setKeyPolicy stores a validated policy document and its parsed form.
func setKeyPolicy(e *keyEntry, doc string, p *keyPolicy) {
	var aws *awspolicy.Policy
	if p != nil {
		aws = p.aws
	}
	e.SetPolicy(doc, aws)
	e.Compiled = p
}

var defaultPolicy = func() *keyPolicy {
	p, err := parsePolicy(defaultPolicyJSON)
	if err != nil {
		panic(err)
	}
	return p
}()
