package kms

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// AWS wire shapes: request members to the Vault-style fields, and the
// Vault-style responses to AWS's output shapes. Blobs are base64 on both
// sides; AWS timestamps are epoch seconds where ours are RFC 3339.

// awsMembers maps an AWS request member to the Vault-style field, and
// converts the members whose shape differs. A member not listed here is
// not accepted by any operation.
var awsMembers = map[string]func(v any, out map[string]any) error{
	"KeyId":                          to("key_id"),
	"DestinationKeyId":               to("key_id"),
	"SourceKeyId":                    to("source_key_id"),
	"TargetKeyId":                    to("target_key_id"),
	"AliasName":                      to("name"), // checked by the aliases/<name> handler
	"Description":                    to("description"),
	"KeyUsage":                       to("key_usage"),
	"KeySpec":                        to("key_spec"),
	"CustomerMasterKeySpec":          to("key_spec"),
	"KeyPairSpec":                    to("key_pair_spec"),
	"Origin":                         to("origin"),
	"Policy":                         to("policy"),
	"PolicyName":                     to("policy_name"),
	"BypassPolicyLockoutSafetyCheck": to("bypass_policy_lockout_safety_check"),
	"PendingWindowInDays":            to("pending_window_days"),
	"RotationPeriodInDays":           to("rotation_period_days"),
	"Limit":                          to("limit"),
	"DryRun":                         to("dry_run"),
	"DryRunModifiers":                to("dry_run_modifiers"),
	"Marker":                         to("after"),
	"GrantTokens":                    to("grant_tokens"),
	"Plaintext":                      to("plaintext"),
	"CiphertextBlob":                 to("ciphertext_blob"),
	"EncryptionContext":              to("encryption_context"),
	"EncryptionAlgorithm":            to("encryption_algorithm"),
	"SourceEncryptionContext":        to("source_encryption_context"),
	"DestinationEncryptionContext":   to("destination_encryption_context"),
	"SourceEncryptionAlgorithm":      to("source_encryption_algorithm"),
	"DestinationEncryptionAlgorithm": to("destination_encryption_algorithm"),
	"Message":                        to("message"),
	"MessageType":                    to("message_type"),
	"Signature":                      to("signature"),
	"SigningAlgorithm":               to("signing_algorithm"),
	"Mac":                            to("mac"),
	"MacAlgorithm":                   to("mac_algorithm"),
	"NumberOfBytes":                  to("number_of_bytes"),
	"KeyAgreementAlgorithm":          to("key_agreement_algorithm"),
	"EncapsulationAlgorithm":         to("encapsulation_algorithm"),
	"SharedSecretCiphertextBlob":     to("shared_secret_ciphertext_blob"),
	"PublicKey":                      to("public_key"),
	"TagKeys":                        to("tag_keys"),
	"GranteePrincipal":               to("grantee_principal"),
	"RetiringPrincipal":              to("retiring_principal"),
	"Operations":                     to("operations"),
	"Name":                           to("name"),
	"GrantId":                        to("grant_id"),
	"GrantToken":                     to("grant_token"),
	"WrappingAlgorithm":              to("wrapping_algorithm"),
	"WrappingKeySpec":                to("wrapping_key_spec"),
	"EncryptedKeyMaterial":           to("encrypted_key_material"),
	"ExpirationModel":                to("expiration_model"),
	"ImportType":                     to("import_type"),
	"KeyMaterialId":                  to("key_material_id"),
	"KeyMaterialDescription":         to("key_material_description"),
	"IncludeKeyMaterial":             to("include_key_material"),
	"Tags":                           tagsIn,
	"Constraints":                    constraintsIn,
	"ValidTo":                        validToIn,
	// The import token is a blob in AWS: the bytes of our token.
	"ImportToken": func(v any, out map[string]any) error {
		s, _ := v.(string)
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return kmserr.Validationf("ImportToken must be base64")
		}
		out["import_token"] = string(raw)
		return nil
	},
}

// Members the plugin refuses: it has no counterpart for them, and
// ignoring one would do something else than the caller asked (a grant
// without its SourceArn constraint is broader than the one requested).
// Each is listed in the members of the operations that take it, so a
// request naming it is refused with the reason instead of as unknown.
func init() {
	custom := "custom key stores have no counterpart here: Vault's seal protects the key material"
	noServices := "there are no AWS services behind this plugin, so no service principal can act on a key; name a Vault principal instead"
	for name, f := range map[string]func(any, map[string]any) error{
		"CustomKeyStoreId":         refuse(kmserr.UnsupportedOperation, custom),
		"XksKeyId":                 refuse(kmserr.UnsupportedOperation, custom),
		"MultiRegion":              refuseUnless(false, kmserr.UnsupportedOperation, "multi-Region keys have no counterpart here: Vault's replication copies keys"),
		"Recipient":                refuse(kmserr.UnsupportedOperation, "there are no Nitro Enclaves behind this plugin to attest a Recipient"),
		"GranteeServicePrincipal":  refuse(kmserr.Validation, noServices),
		"RetiringServicePrincipal": refuse(kmserr.Validation, noServices),
	} {
		awsMembers[name] = named(name, f)
	}
}

// named makes a member's refusal name the member.
func named(name string, f func(any, map[string]any) error) func(any, map[string]any) error {
	return func(v any, out map[string]any) error {
		err := f(v, out)
		var ke *kmserr.Error
		if errors.As(err, &ke) {
			return kmserr.New(ke.Type, "%s: %s", name, ke.Msg)
		}
		return err
	}
}

func refuse(exc, why string) func(any, map[string]any) error {
	return func(any, map[string]any) error { return kmserr.New(exc, "%s", why) }
}

// refuseUnless accepts the one value that asks for what the plugin does.
func refuseUnless(ok any, exc, why string) func(any, map[string]any) error {
	return func(v any, _ map[string]any) error {
		if v == ok {
			return nil
		}
		return kmserr.New(exc, "%s", why)
	}
}

func to(field string) func(any, map[string]any) error {
	return func(v any, out map[string]any) error {
		out[field] = v
		return nil
	}
}

// awsFields turns an AWS request body into the Vault-style path's fields.
// A member the operation does not take is refused, never ignored: a
// misspelt or newer member would otherwise be silently dropped.
func awsFields(op string, in map[string]any, members []string) (map[string]any, error) {
	names := make([]string, 0, len(in))
	for name := range in {
		names = append(names, name)
	}
	sort.Strings(names) // the same request is refused for the same member
	out := map[string]any{}
	for _, name := range names {
		if !slices.Contains(members, name) {
			return nil, kmserr.Validationf("%s is not a member of %s's request", name, op)
		}
		v := in[name]
		if v == nil {
			continue
		}
		conv := awsMembers[name]
		if own, ok := awsOpMembers[op][name]; ok {
			conv = own
		}
		if err := conv(v, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func tagsIn(v any, out map[string]any) error {
	list, ok := v.([]any)
	if !ok {
		return kmserr.Validationf("Tags must be a list of {TagKey, TagValue}")
	}
	tags := map[string]any{}
	for _, item := range list {
		t, ok := item.(map[string]any)
		k, kok := t["TagKey"].(string)
		val, vok := t["TagValue"].(string)
		if !ok || !kok || !vok {
			return kmserr.Validationf("each tag needs a TagKey and a TagValue string")
		}
		tags[k] = val
	}
	out["tags"] = tags
	return nil
}

func constraintsIn(v any, out map[string]any) error {
	c, ok := v.(map[string]any)
	if !ok {
		return kmserr.Validationf("Constraints must be an object")
	}
	for name, m := range c {
		switch name {
		case "EncryptionContextEquals":
			out["encryption_context_equals"] = m
		case "EncryptionContextSubset":
			out["encryption_context_subset"] = m
		case "SourceArn":
			// Dropping it would store a grant usable from anywhere.
			return kmserr.Validationf("Constraints.SourceArn: there are no AWS services behind this plugin, so a grant cannot be constrained to one")
		default:
			return kmserr.Validationf("Constraints.%s is not a grant constraint", name)
		}
	}
	return nil
}

// validToIn takes AWS's epoch seconds (the SDKs send a number).
func validToIn(v any, out map[string]any) error {
	var secs float64
	var err error
	switch n := v.(type) {
	case json.Number:
		secs, err = n.Float64()
	case float64:
		secs = n
	case string:
		secs, err = strconv.ParseFloat(n, 64)
	default:
		err = fmt.Errorf("type %T", v)
	}
	if err != nil {
		return kmserr.Validationf("ValidTo must be a timestamp in epoch seconds")
	}
	out["valid_to"] = time.Unix(0, int64(secs*float64(time.Second))).UTC().Format(time.RFC3339)
	return nil
}

// awsOut is a Vault-style response on its way to AWS's shape.
type awsOut struct {
	in      map[string]any // the Vault-style fields of the request
	data    map[string]any
	arns    arnScheme
	account string
}

// keyARN is the ARN of the key whose id is in field.
func (x awsOut) keyARN(field string) any {
	if id, ok := x.data[field].(string); ok && id != "" {
		return x.arns.Key(id)
	}
	return nil
}

// shape renames response fields: pairs of AWS member and Vault field.
// Absent fields stay absent.
func shape(pairs ...string) func(awsOut) map[string]any {
	return func(x awsOut) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(pairs); i += 2 {
			if v, ok := x.data[pairs[i+1]]; ok {
				m[pairs[i]] = v
			}
		}
		return m
	}
}

// keyShape is shape plus KeyId, which AWS returns as the key ARN.
func keyShape(pairs ...string) func(awsOut) map[string]any {
	return func(x awsOut) map[string]any {
		m := shape(pairs...)(x)
		m["KeyId"] = x.keyARN("key_id")
		return m
	}
}

// epoch turns an RFC 3339 time into AWS's epoch seconds.
func epoch(v any) any {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return t.Unix()
}

// blobOf is a string sent as an AWS blob.
func blobOf(v any) any {
	s, _ := v.(string)
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func awsKeyMetadata(x awsOut) map[string]any {
	d := x.data
	m := shape("KeyId", "key_id", "Arn", "arn", "Description", "description", "Enabled", "enabled", "KeyUsage", "key_usage",
		"KeyState", "key_state", "Origin", "origin", "KeyManager", "key_manager", "KeySpec", "key_spec",
		"CustomerMasterKeySpec", "key_spec", "ExpirationModel", "expiration_model",
		"EncryptionAlgorithms", "encryption_algorithms", "SigningAlgorithms", "signing_algorithms",
		"MacAlgorithms", "mac_algorithms", "KeyAgreementAlgorithms", "key_agreement_algorithms",
		"EncapsulationAlgorithms", "encapsulation_algorithms",
		"PendingDeletionWindowInDays", "pending_deletion_window_in_days", "CurrentKeyMaterialId", "current_key_material_id")(x)
	m["AWSAccountId"] = x.account
	m["MultiRegion"] = false
	m["CreationDate"] = epoch(d["creation_date"])
	for member, field := range map[string]string{"DeletionDate": "deletion_date", "ValidTo": "valid_to"} {
		if v, ok := d[field]; ok {
			m[member] = epoch(v)
		}
	}
	return map[string]any{"KeyMetadata": m}
}

// awsList is a Vault list response (keys, key_info, next_marker) as an AWS
// page: the entries under member, in order, with NextMarker and Truncated.
func awsList(x awsOut, member string, entry func(name string, info map[string]any) map[string]any) map[string]any {
	names, _ := x.data["keys"].([]string)
	infos, _ := x.data["key_info"].(map[string]any)
	list := make([]any, 0, len(names))
	for _, n := range names {
		info, _ := infos[n].(map[string]any)
		list = append(list, entry(n, info))
	}
	out := map[string]any{member: list, "Truncated": false}
	if next, ok := x.data["next_marker"].(string); ok && next != "" {
		out["NextMarker"], out["Truncated"] = next, true
	}
	return out
}

func awsListKeys(x awsOut) map[string]any {
	return awsList(x, "Keys", func(id string, info map[string]any) map[string]any {
		return map[string]any{"KeyId": id, "KeyArn": info["arn"]}
	})
}

func awsListAliases(x awsOut) map[string]any {
	return awsList(x, "Aliases", func(_ string, info map[string]any) map[string]any {
		return map[string]any{"AliasName": info["alias_name"], "AliasArn": info["alias_arn"], "TargetKeyId": info["target_key_id"],
			"CreationDate": epoch(info["creation_date"]), "LastUpdatedDate": epoch(info["last_updated_date"])}
	})
}

func awsListGrants(x awsOut) map[string]any {
	return awsList(x, "Grants", func(_ string, g map[string]any) map[string]any {
		e := shape("GrantId", "grant_id", "Name", "name", "GranteePrincipal", "grantee_principal", "RetiringPrincipal", "retiring_principal",
			"IssuingAccount", "issuing_principal", "Operations", "operations")(awsOut{data: g})
		e["KeyId"] = awsOut{data: g, arns: x.arns}.keyARN("key_id")
		e["CreationDate"] = epoch(g["creation_date"])
		if c, ok := g["constraints"].(map[string]any); ok {
			e["Constraints"] = shape("EncryptionContextEquals", "encryption_context_equals",
				"EncryptionContextSubset", "encryption_context_subset")(awsOut{data: c})
		}
		return e
	})
}

func awsListRotations(x awsOut) map[string]any {
	return awsList(x, "Rotations", func(_ string, info map[string]any) map[string]any {
		m := shape("KeyId", "key_id", "RotationType", "rotation_type", "KeyMaterialId", "key_material_id",
			"KeyMaterialState", "key_material_state", "KeyMaterialDescription", "key_material_description",
			"ImportState", "import_state", "ExpirationModel", "expiration_model")(awsOut{data: info})
		for member, field := range map[string]string{"RotationDate": "rotation_date", "ValidTo": "valid_to"} {
			if v, ok := info[field]; ok {
				m[member] = epoch(v)
			}
		}
		return m
	})
}

func awsListTags(x awsOut) (map[string]any, error) {
	tags, _ := x.data["tags"].(map[string]any)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// AWS pages tags by 1..50 (default 50, a key's most): the Vault-style
	// path returns them all, so the page is cut here.
	limit := keyspec.MaxTags
	if v, ok := x.in["limit"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil || n < 1 || n > keyspec.MaxTags {
			return nil, kmserr.Validationf("Limit must be between 1 and %d", keyspec.MaxTags)
		}
		limit = n
	}
	start := 0
	if m, ok := x.in["after"].(string); ok && m != "" {
		if start = sort.SearchStrings(keys, m); start < len(keys) && keys[start] == m {
			start++
		}
	}
	end := min(start+limit, len(keys))
	list := make([]any, 0, end-start)
	for _, k := range keys[start:end] {
		list = append(list, map[string]any{"TagKey": k, "TagValue": tags[k]})
	}
	out := map[string]any{"Tags": list, "Truncated": end < len(keys)}
	if end < len(keys) {
		out["NextMarker"] = keys[end-1]
	}
	return out, nil
}

// awsMemberOf is the member of the request in that became the Vault-style
// field, so that an error names what the client sent (Plaintext, not
// plaintext).
func awsMemberOf(in map[string]any, members []string, field string) string {
	for _, name := range members {
		v, ok := in[name]
		if !ok || v == nil {
			continue
		}
		out := map[string]any{}
		if awsMembers[name](v, out) == nil {
			if _, ok := out[field]; ok {
				return name
			}
		}
	}
	return field
}
