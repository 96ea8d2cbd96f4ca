package kms

import (
	"context"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func (c *configEntry) account() awspolicy.Account {
	return awspolicy.Account{Partition: orDefault(c.Partition, defaultPartition), ID: orDefault(c.AccountID, defaultAccountID)}
}

// requestAttrs are the request parameters that key policy conditions can
// test beyond the encryption context. Handlers attach them to the context
// (withAttrs) before authorizing, so authorize keeps its signature.
type requestAttrs struct {
	EncryptionAlgorithm string
	// ReEncrypt's two algorithms, for ReEncryptFrom and ReEncryptTo.
	SourceEncryptionAlgorithm, DestinationEncryptionAlgorithm string
	SigningAlgorithm                                          string
	MacAlgorithm                                              string
	KeyAgreementAlgorithm                                     string
	MessageType                                               string
	DataKeyPairSpec                                           string
	RequestAlias                                              string
	WrappingAlgorithm                                         string
	WrappingKeySpec                                           string
	ExpirationModel                                           string
	ValidTo                                                   time.Time
	// Grant parameters, for CreateGrant.
	GrantOperations     []string
	GrantConstraintType string
	// Every spelling of the grant's principals (principalSpellings).
	GranteePrincipal  []string
	RetiringPrincipal []string
	// Numbers and booleans that are absent when zero or nil.
	PendingWindowDays  int
	RotationPeriodDays int
	BypassLockout      *bool
	ReEncryptOnSameKey *bool
}

type attrsKey struct{}

// withAttrs returns ctx with set applied to a copy of its attributes.
func withAttrs(ctx context.Context, set func(*requestAttrs)) context.Context {
	a := requestAttrs{}
	if old, ok := ctx.Value(attrsKey{}).(*requestAttrs); ok {
		a = *old
	}
	set(&a)
	return context.WithValue(ctx, attrsKey{}, &a)
}

func attrsFrom(ctx context.Context) *requestAttrs {
	if a, ok := ctx.Value(attrsKey{}).(*requestAttrs); ok {
		return a
	}
	return &requestAttrs{}
}

// policyRequest is one question to a key policy.
type policyRequest struct {
	who        *awspolicy.Caller
	op         string
	ec         map[string]string
	hasContext bool
	arn        string
	account    awspolicy.Account
	keys       awspolicy.Keys
}

// decide answers a policy request.
func decide(p *awspolicy.Policy, r *policyRequest) (decision, string) {
	d, by := p.Evaluate(&awspolicy.Request{Caller: r.who, Action: r.op, Resource: r.arn, Account: r.account, Keys: r.keys})
	switch d {
	case awspolicy.Deny:
		return denied, by
	case awspolicy.Allow:
		return allowed, by
	}
	return noDecision, ""
}

// evaluatePolicy asks key e's policy (the mount's default one when the key
// has none) whether the caller may perform op.
func (b *backend) evaluatePolicy(ctx context.Context, req *logical.Request, e *keyEntry, who *awspolicy.Caller, op string, ec map[string]string) (decision, string, error) {
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return noDecision, "", err
	}
	p := e.keyPolicy()
	if p == nil {
		p = access.DefaultPolicy(cfg.account())
	}
	r := &policyRequest{who: who, op: op, ec: ec, hasContext: access.Operations[op].Context,
		arn: cfg.arns().key(e.KeyID), account: cfg.account()}
	// AWS: on CreateGrant, kms:EncryptionContext:<k> and
	// kms:EncryptionContextKeys test the grant's context constraint.
	if op == opCreateGrant && len(ec) > 0 {
		r.hasContext = true
	}
	if r.keys, err = b.conditionKeys(ctx, req, e, p, r, attrsFrom(ctx)); err != nil {
		return noDecision, "", err
	}
	if m := decisionMemoFrom(ctx); m != nil {
		d, by := m.decide(p, r, func() (decision, string) {
			b.policyEvaluations.Add(1)
			return decide(p, r)
		})
		return d, by, nil
	}
	b.policyEvaluations.Add(1)
	d, by := decide(p, r)
	return d, by, nil
}

// conditionKeys are the condition keys the plugin can answer truthfully
// for this request; any other key is absent.
func (b *backend) conditionKeys(ctx context.Context, req *logical.Request, e *keyEntry, p *awspolicy.Policy, r *policyRequest, a *requestAttrs) (awspolicy.Keys, error) {
	k := awspolicy.Keys{}
	set := func(name, v string) {
		if v != "" {
			k.Add(name, v)
		}
	}
	if r.hasContext && len(r.ec) > 0 {
		names := make([]string, 0, len(r.ec))
		for n, v := range r.ec {
			k.Add("kms:EncryptionContext:"+n, v)
			names = append(names, n)
		}
		sort.Strings(names)
		k.Add("kms:EncryptionContextKeys", names...)
	}
	switch r.op {
	case opReEncryptFrom:
		set("kms:EncryptionAlgorithm", a.SourceEncryptionAlgorithm)
	case opReEncryptTo:
		set("kms:EncryptionAlgorithm", a.DestinationEncryptionAlgorithm)
	case opGenerateDataKey, opGenerateDataKeyWP, opGenerateDataKeyPair, opGenerateDataKeyPairWP:
		// Data keys are wrapped under a symmetric key, always so.
		set("kms:EncryptionAlgorithm", keyspec.AlgSymmetricDefault)
	default:
		set("kms:EncryptionAlgorithm", a.EncryptionAlgorithm)
	}
	set("kms:SigningAlgorithm", a.SigningAlgorithm)
	set("kms:MacAlgorithm", a.MacAlgorithm)
	set("kms:KeyAgreementAlgorithm", a.KeyAgreementAlgorithm)
	set("kms:MessageType", a.MessageType)
	set("kms:DataKeyPairSpec", a.DataKeyPairSpec)
	set("kms:RequestAlias", a.RequestAlias)
	set("kms:WrappingAlgorithm", a.WrappingAlgorithm)
	set("kms:WrappingKeySpec", a.WrappingKeySpec)
	set("kms:ExpirationModel", a.ExpirationModel)
	if !a.ValidTo.IsZero() {
		k.Add("kms:ValidTo", strconv.FormatInt(a.ValidTo.Unix(), 10))
	}
	if len(a.GrantOperations) > 0 {
		k.Add("kms:GrantOperations", a.GrantOperations...)
	}
	set("kms:GrantConstraintType", a.GrantConstraintType)
	if len(a.GranteePrincipal) > 0 {
		k.Add("kms:GranteePrincipal", a.GranteePrincipal...)
	}
	if len(a.RetiringPrincipal) > 0 {
		k.Add("kms:RetiringPrincipal", a.RetiringPrincipal...)
	}
	switch r.op {
	case opCreateGrant, opListGrants, opRevokeGrant:
		k.Add("kms:GrantIsForAWSResource", "false")
	}
	if a.PendingWindowDays > 0 {
		k.Add("kms:ScheduleKeyDeletionPendingWindowInDays", strconv.Itoa(a.PendingWindowDays))
	}
	if a.RotationPeriodDays > 0 {
		k.Add("kms:RotationPeriodInDays", strconv.Itoa(a.RotationPeriodDays))
	}
	if a.ReEncryptOnSameKey != nil && (r.op == opReEncryptFrom || r.op == opReEncryptTo) {
		k.Add("kms:ReEncryptOnSameKey", strconv.FormatBool(*a.ReEncryptOnSameKey))
	}
	if a.BypassLockout != nil {
		k.Add("kms:BypassPolicyLockoutSafetyCheck", strconv.FormatBool(*a.BypassLockout))
	}
	if e != nil {
		set("kms:KeySpec", e.KeySpec)
		set("kms:KeyUsage", string(e.KeyUsage))
		set("kms:KeyOrigin", e.Origin)
		if p.References("kms:ResourceAliases") {
			names, err := b.aliasesOf(ctx, req.Storage, e.KeyID)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				k.Add("kms:ResourceAliases", name)
			}
		}
	}
	// Global keys.
	// Every caller is of the mount's account, as the account principal says.
	k.Add("kms:CallerAccount", r.account.ID)
	if c := r.who; c.EntityName != "" && !c.EntityLess {
		k.Add("aws:PrincipalArn", r.account.IAM("user/"+c.EntityName))
		k.Add("aws:username", c.EntityName)
		addOwnSpellings(k, p, c, r.account)
	}
	for n, v := range r.who.Metadata {
		k.Add("aws:PrincipalTag/"+n, v)
	}
	now := b.now().UTC()
	k.Add("aws:CurrentTime", now.Format(time.RFC3339))
	k.Add("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	if conn := req.Connection; conn != nil {
		host := conn.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); ip != nil {
			k.Add("aws:SourceIp", ip.String())
		}
		k.Add("aws:SecureTransport", strconv.FormatBool(conn.ConnState != nil))
	}
	return k, nil
}

// addOwnSpellings answers aws:username and aws:PrincipalArn also with the
// policy's own values for them that name the caller's entity in another
// case (Vault's names are case-insensitive), so that a Deny on
// aws:username "mallory" holds for the entity stored as Mallory. The
// stored spelling stays the first value, the one policy variables use.
func addOwnSpellings(k awspolicy.Keys, p *awspolicy.Policy, c *awspolicy.Caller, acct awspolicy.Account) {
	for _, v := range p.ConditionValues("aws:username") {
		if v != c.EntityName && awspolicy.SameName(v, c.EntityName) {
			k.Add("aws:username", v)
		}
	}
	self, err := awspolicy.ParsePrincipal(acct.IAM("user/" + c.EntityName))
	if err != nil {
		return
	}
	want, _ := self.Canonical(acct)
	for _, v := range p.ConditionValues("aws:PrincipalArn") {
		if pv, err := awspolicy.ParsePrincipal(v); err == nil && v != self.String() {
			if got, ok := pv.Canonical(acct); ok && got == want {
				k.Add("aws:PrincipalArn", v)
			}
		}
	}
}

// principalMatches applies the one principal rule to a grant's grantee
// or retiring principal (either form).
func principalMatches(principal string, who *awspolicy.Caller) bool {
	p, err := awspolicy.ParsePrincipal(principal)
	return err == nil && p.Names(who, awspolicy.UseAllow)
}

// mountAccount is the account of the mount's ARNs, from the loaded
// configuration (always loaded once a key has been resolved).
func (b *backend) mountAccount() awspolicy.Account {
	if c := b.cfg.Load(); c != nil {
		return c.account()
	}
	return (&configEntry{}).account()
}

// withPolicyAttrs wraps every path operation so that the request
// parameters key policy conditions test (kms:EncryptionAlgorithm,
// kms:RequestAlias, ...) are in its context, on the Vault-style paths and
// the AWS endpoint alike (which runs the same handlers).
func withPolicyAttrs(paths []*framework.Path) {
	for _, p := range paths {
		for _, h := range p.Operations {
			po, ok := h.(*framework.PathOperation)
			if !ok || po.Callback == nil {
				continue
			}
			cb := po.Callback
			po.Callback = func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
				return cb(fieldAttrs(withCallerMemo(ctx), d), req, d)
			}
		}
	}
}

// fieldAttrs reads the request attributes from the fields a path has. A
// batch request carries per-item values, so its attributes stay absent
// rather than answer for the wrong item.
func fieldAttrs(ctx context.Context, d *framework.FieldData) context.Context {
	if d == nil {
		return ctx
	}
	if _, batch := d.Raw["batch_input"]; batch {
		return ctx
	}
	str := func(name string) string {
		if _, ok := d.Schema[name]; !ok {
			return ""
		}
		// Get, not GetOk: a default (SYMMETRIC_DEFAULT, RAW) is what the
		// handler uses, so it is the truthful value.
		v, _, err := d.GetOkErr(name)
		if err != nil {
			return ""
		}
		if v == nil {
			v = d.Get(name)
		}
		s, _ := v.(string)
		return s
	}
	num := func(name string) int {
		if _, ok := d.Schema[name]; !ok {
			return 0
		}
		if v, ok, err := d.GetOkErr(name); ok && err == nil {
			n, _ := v.(int)
			return n
		}
		return 0
	}
	return withAttrs(ctx, func(a *requestAttrs) {
		a.EncryptionAlgorithm = str("encryption_algorithm")
		a.SourceEncryptionAlgorithm = str("source_encryption_algorithm")
		a.DestinationEncryptionAlgorithm = str("destination_encryption_algorithm")
		a.SigningAlgorithm = str("signing_algorithm")
		a.MacAlgorithm = str("mac_algorithm")
		a.KeyAgreementAlgorithm = str("key_agreement_algorithm")
		a.MessageType = str("message_type")
		a.DataKeyPairSpec = str("key_pair_spec")
		a.WrappingAlgorithm = str("wrapping_algorithm")
		a.WrappingKeySpec = str("wrapping_key_spec")
		a.ExpirationModel = str("expiration_model")
		if t, err := time.Parse(time.RFC3339, str("valid_to")); err == nil && a.ExpirationModel == expirationExpires {
			a.ValidTo = t
		}
		a.PendingWindowDays = num("pending_window_days")
		a.RotationPeriodDays = num("rotation_period_days")
		// ReEncrypt names two keys; which alias was meant for which
		// authorization is not known here, so neither is answered.
		if _, twoKeys := d.Schema["source_key_id"]; !twoKeys {
			a.RequestAlias = requestAlias(str("key_id"))
		}
	})
}

// requestAlias is the alias a request names its key by (alias/<name>, or
// an alias ARN), or "".
func requestAlias(ref string) string {
	if strings.HasPrefix(ref, "alias/") {
		return ref
	}
	if strings.HasPrefix(ref, "arn:") {
		if parts := strings.SplitN(ref, ":", 6); len(parts) == 6 && strings.HasPrefix(parts[5], "alias/") {
			return parts[5]
		}
	}
	return ""
}
