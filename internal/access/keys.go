package access

import (
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// conditionKeys are the condition keys the plugin can answer truthfully
// for this request; any other key is absent.
func conditionKeys(r *Request, p *awspolicy.Policy, hasContext bool) (awspolicy.Keys, error) {
	k := awspolicy.Keys{}
	if hasContext && len(r.EC) > 0 {
		if err := checkContextCase(r.EC, p); err != nil {
			return nil, err
		}
		names := make([]string, 0, len(r.EC))
		for n, v := range r.EC {
			k.Add("kms:EncryptionContext:"+n, v)
			names = append(names, n)
		}
		sort.Strings(names)
		k.Add("kms:EncryptionContextKeys", names...)
	}
	a := r.Attrs
	if a == nil {
		a = &Attrs{}
	}
	parameterKeys(k, r.Op, a)
	if err := keyKeys(k, &r.Key, p); err != nil {
		return nil, err
	}
	globalKeys(k, r, p)
	return k, nil
}

// errContextCase is checkContextCase's refusal. Decide turns it into a
// denial like any other: the caller is not told why, since whether the
// policy tests a key is the key policy's to show (GetKeyPolicy), not a
// refused caller's to learn key name by key name.
var errContextCase = errors.New("two keys of the encryption context differ only in case, " +
	"and the key policy's conditions on kms:EncryptionContext:<key> cannot tell them apart")

// checkContextCase refuses an encryption context with two keys that differ
// only in case when the policy tests kms:EncryptionContext:<that key>.
// Condition key names ignore case, so both keys' values would answer the
// one condition key: "deny unless dept is hr" would not apply to
// {"dept":"finance","Dept":"hr"}, and "allow if dept is finance" would
// admit {"dept":"hr","Dept":"finance"}. AWS leaves this undefined; the
// plugin refuses the request rather than guess either way.
func checkContextCase(ec map[string]string, p *awspolicy.Policy) error {
	if len(ec) < 2 {
		return nil
	}
	seen := make(map[string]bool, len(ec))
	for n := range ec {
		folded := strings.ToLower(n)
		if seen[folded] && p.References("kms:EncryptionContext:"+folded) {
			return errContextCase
		}
		seen[folded] = true
	}
	return nil
}

// parameterKeys answers the keys of the request's parameters.
func parameterKeys(k awspolicy.Keys, op string, a *Attrs) {
	set := func(name, v string) {
		if v != "" {
			k.Add(name, v)
		}
	}
	switch op {
	case keyspec.OpReEncryptFrom:
		set("kms:EncryptionAlgorithm", a.SourceEncryptionAlgorithm)
	case keyspec.OpReEncryptTo:
		set("kms:EncryptionAlgorithm", a.DestinationEncryptionAlgorithm)
	case keyspec.OpGenerateDataKey, keyspec.OpGenerateDataKeyWP, keyspec.OpGenerateDataKeyPair, keyspec.OpGenerateDataKeyPairWP:
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
	switch op {
	case keyspec.OpCreateGrant, keyspec.OpListGrants, keyspec.OpRevokeGrant:
		k.Add("kms:GrantIsForAWSResource", "false")
	}
	if a.PendingWindowDays > 0 {
		k.Add("kms:ScheduleKeyDeletionPendingWindowInDays", strconv.Itoa(a.PendingWindowDays))
	}
	if a.RotationPeriodDays > 0 {
		k.Add("kms:RotationPeriodInDays", strconv.Itoa(a.RotationPeriodDays))
	}
	if a.ReEncryptOnSameKey != nil && (op == keyspec.OpReEncryptFrom || op == keyspec.OpReEncryptTo) {
		k.Add("kms:ReEncryptOnSameKey", strconv.FormatBool(*a.ReEncryptOnSameKey))
	}
	if a.BypassLockout != nil {
		k.Add("kms:BypassPolicyLockoutSafetyCheck", strconv.FormatBool(*a.BypassLockout))
	}
}

// keyKeys answers the keys of the key itself; its aliases are read only
// when the policy tests them.
func keyKeys(k awspolicy.Keys, key *Key, p *awspolicy.Policy) error {
	for _, kv := range [...][2]string{{"kms:KeySpec", key.Spec}, {"kms:KeyUsage", key.Usage}, {"kms:KeyOrigin", key.Origin}} {
		if kv[1] != "" {
			k.Add(kv[0], kv[1])
		}
	}
	if key.Aliases == nil || !p.References("kms:ResourceAliases") {
		return nil
	}
	names, err := key.Aliases()
	if err != nil {
		return err
	}
	for _, name := range names {
		k.Add("kms:ResourceAliases", name)
	}
	return nil
}

// globalKeys answers the caller's and the connection's keys.
func globalKeys(k awspolicy.Keys, r *Request, p *awspolicy.Policy) {
	// Every caller is of the mount's account, as the account principal says.
	k.Add("kms:CallerAccount", r.Account.ID)
	if c := r.Caller; c.EntityName != "" && !c.EntityLess {
		k.Add("aws:PrincipalArn", r.Account.IAM("user/"+c.EntityName))
		k.Add("aws:username", c.EntityName)
		addOwnSpellings(k, p, c, r.Account)
	}
	for n, v := range r.Caller.Metadata {
		k.Add("aws:PrincipalTag/"+n, v)
	}
	now := r.Now.UTC()
	k.Add("aws:CurrentTime", now.Format(time.RFC3339))
	k.Add("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	if conn := r.Conn; conn != nil {
		host := conn.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); ip != nil {
			k.Add("aws:SourceIp", ip.String())
		}
		k.Add("aws:SecureTransport", strconv.FormatBool(conn.TLS))
	}
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
