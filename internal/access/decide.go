package access

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Verdict is the outcome of an authorization question.
type Verdict int

const (
	// NoDecision: the key policy neither allows nor denies.
	NoDecision Verdict = iota
	Allowed
	Denied
)

// Key is what access needs of the key a request is for, built by the
// root's glue from the stored key.
type Key struct {
	ID, ARN string
	// Policy is the key's parsed policy; nil means DefaultPolicy.
	Policy              *awspolicy.Policy
	Spec, Usage, Origin string
	// Aliases reads the key's alias names, only when the policy tests
	// kms:ResourceAliases; nil answers none.
	Aliases func() ([]string, error)
}

// Conn is the client connection Vault saw, for aws:SourceIp and
// aws:SecureTransport.
type Conn struct {
	RemoteAddr string
	TLS        bool
}

// Request is one authorization question: may Caller perform Op on Key
// with encryption context EC?
type Request struct {
	Caller  *awspolicy.Caller
	Op      string
	EC      map[string]string
	Key     Key
	Account awspolicy.Account
	Attrs   *Attrs
	Now     time.Time
	Conn    *Conn
	// Standing, when set, is asked before the key policy: the caller's
	// own standing on the object of the request (the retiring principal
	// of the grant being retired), which AWS honours whatever the key
	// policy says. It returns what decided, or "".
	Standing func() string
	// Grant, when set, is asked when the key policy neither allows nor
	// denies: the id of an active grant that allows the request, or "".
	// Left nil, only the key policy counts.
	Grant func() (string, error)
	// Evaluations, when set, counts key policy evaluations.
	Evaluations *atomic.Int64
}

// Decision is a verdict and what decided it: "policy statement <Sid>",
// "grant <id>", the caller's standing, or why nothing allowed it.
type Decision struct {
	Verdict Verdict
	By      string
	// Statement is the Sid of the key policy statement that decided, if
	// one did.
	Statement string
}

// Decide is the one decision every authorization goes through: the
// caller's standing on the request's object admits; then the key policy's
// Deny statements refuse, an Allow statement admits; then an active grant
// admits (when grants count). Anything else is Denied.
func Decide(ctx context.Context, r *Request) (Decision, error) {
	if r.Standing != nil {
		if by := r.Standing(); by != "" {
			return Decision{Verdict: Allowed, By: by}, nil
		}
	}
	v, sid, err := PolicyVerdict(ctx, r)
	if errors.Is(err, errContextCase) {
		return Decision{Verdict: Denied, By: err.Error()}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	switch v {
	case Denied, Allowed:
		return Decision{Verdict: v, By: "policy statement " + sid, Statement: sid}, nil
	}
	if r.Grant == nil {
		return Decision{Verdict: Denied, By: "no policy statement allows it"}, nil
	}
	id, err := r.Grant()
	if err != nil {
		return Decision{}, err
	}
	if id != "" {
		return Decision{Verdict: Allowed, By: "grant " + id}, nil
	}
	return Decision{Verdict: Denied, By: "no statement or grant allows it"}, nil
}

// PolicyVerdict asks the key's policy (the account's default one when the
// key has none) alone, returning the Sid of the deciding statement. In a
// batch (WithDecisionMemo) equal questions are evaluated once. A context
// the policy cannot read is errContextCase, which Decide makes a denial.
func PolicyVerdict(ctx context.Context, r *Request) (Verdict, string, error) {
	p := r.Key.Policy
	if p == nil {
		p = DefaultPolicy(r.Account)
	}
	hasContext := Operations[r.Op].Context
	// AWS: on CreateGrant, kms:EncryptionContext:<k> and
	// kms:EncryptionContextKeys test the grant's context constraint.
	if r.Op == keyspec.OpCreateGrant && len(r.EC) > 0 {
		hasContext = true
	}
	keys, err := conditionKeys(r, p, hasContext)
	if err != nil {
		return NoDecision, "", err
	}
	eval := func() (Verdict, string) {
		if r.Evaluations != nil {
			r.Evaluations.Add(1)
		}
		return evaluate(p, r, keys)
	}
	if m, _ := ctx.Value(decisionMemoKey{}).(*decisionMemo); m != nil {
		v, by := m.decide(p, r, keys, eval)
		return v, by, nil
	}
	v, by := eval()
	return v, by, nil
}

func evaluate(p *awspolicy.Policy, r *Request, keys awspolicy.Keys) (Verdict, string) {
	d, by := p.Evaluate(&awspolicy.Request{Caller: r.Caller, Action: r.Op, Resource: r.Key.ARN, Account: r.Account, Keys: keys})
	switch d {
	case awspolicy.Deny:
		return Denied, by
	case awspolicy.Allow:
		return Allowed, by
	}
	return NoDecision, ""
}
