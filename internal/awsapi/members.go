package awsapi

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
)

// AWS request members to the Vault-style fields. Blobs are base64 on
// both sides, as the Vault-style paths take them.

// Converter turns one AWS request member into the Vault-style field(s) it
// stands for, or refuses it.
type Converter func(v any, out map[string]any) error

// Members maps an AWS request member to the Vault-style field, and
// converts the members whose shape differs, or refuses the members the
// plugin has no counterpart for. A member not listed here is not accepted
// by any operation.
var Members = withRefusals(map[string]Converter{
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
	"CustomKeyStoreName":             to("custom_key_store_name"),
	"CloudHsmClusterId":              to("cloud_hsm_cluster_id"),
	"CustomKeyStoreType":             to("custom_key_store_type"),
	"KeyStorePassword":               to("key_store_password"),
	"TrustAnchorCertificate":         to("trust_anchor_certificate"),
	"NewCustomKeyStoreName":          to("new_custom_key_store_name"),
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
})

// withRefusals adds the members the plugin refuses: it has no
// counterpart for them, and ignoring one would do something else than the
// caller asked (a grant without its SourceArn constraint is broader than
// the one requested). Each is listed in the members of the operations
// that take it, so a request naming it is refused with the reason instead
// of as unknown; the refusal names the member.
func withRefusals(m map[string]Converter) map[string]Converter {
	custom := "GenerateRandom from a custom key store's token is not available; CreateKey and the custom key store operations take CustomKeyStoreId"
	noServices := "there are no AWS services behind this plugin, so no service principal can act on a key; name a Vault principal instead"
	refusals := map[string]Converter{
		"CustomKeyStoreId":         refuse(kmserr.UnsupportedOperation, custom),
		"XksKeyId":                 refuse(kmserr.UnsupportedOperation, "external key stores have no counterpart here; custom key stores are AWS_CLOUDHSM over PKCS#11"),
		"MultiRegion":              refuseUnless(false, kmserr.UnsupportedOperation, "multi-Region keys have no counterpart here: Vault's replication copies keys"),
		"Recipient":                refuse(kmserr.UnsupportedOperation, "there are no Nitro Enclaves behind this plugin to attest a Recipient"),
		"GranteeServicePrincipal":  refuse(kmserr.Validation, noServices),
		"RetiringServicePrincipal": refuse(kmserr.Validation, noServices),
	}
	xks := refuse(kmserr.UnsupportedOperation, "external key stores have no counterpart here; custom key stores are AWS_CLOUDHSM over PKCS#11")
	for _, name := range mXks {
		refusals[name] = xks
	}
	for name, f := range refusals {
		m[name] = named(name, f)
	}
	return m
}

// OpMembers overrides Members for one operation: CustomKeyStoreId names
// the store in the custom key store operations and in CreateKey, while
// GenerateRandom refuses it.
var OpMembers = map[string]map[string]Converter{
	"CreateKey":                {"CustomKeyStoreId": to("custom_key_store_id")},
	"CreateCustomKeyStore":     {"CustomKeyStoreId": to("custom_key_store_id")},
	"DescribeCustomKeyStores":  {"CustomKeyStoreId": to("custom_key_store_id")},
	"ConnectCustomKeyStore":    {"CustomKeyStoreId": to("custom_key_store_id")},
	"DisconnectCustomKeyStore": {"CustomKeyStoreId": to("custom_key_store_id")},
	"UpdateCustomKeyStore":     {"CustomKeyStoreId": to("custom_key_store_id")},
	"DeleteCustomKeyStore":     {"CustomKeyStoreId": to("custom_key_store_id")},
}

// named makes a member's refusal name the member.
func named(name string, f Converter) Converter {
	return func(v any, out map[string]any) error {
		err := f(v, out)
		var ke *kmserr.Error
		if errors.As(err, &ke) {
			return kmserr.New(ke.Type, "%s: %s", name, ke.Msg)
		}
		return err
	}
}

func refuse(exc, why string) Converter {
	return func(any, map[string]any) error { return kmserr.New(exc, "%s", why) }
}

// refuseUnless accepts the one value that asks for what the plugin does.
func refuseUnless(ok any, exc, why string) Converter {
	return func(v any, _ map[string]any) error {
		if v == ok {
			return nil
		}
		return kmserr.New(exc, "%s", why)
	}
}

func to(field string) Converter {
	return func(v any, out map[string]any) error {
		out[field] = v
		return nil
	}
}

// Fields turns an AWS request body into the Vault-style path's fields.
// A member the operation does not take is refused, never ignored: a
// misspelt or newer member would otherwise be silently dropped.
func Fields(op string, in map[string]any, members []string) (map[string]any, error) {
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
		conv := Members[name]
		if own, ok := OpMembers[op][name]; ok {
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

// memberOf is the member of the request in that became the Vault-style
// field, so that an error names what the client sent (Plaintext, not
// plaintext).
func memberOf(in map[string]any, members []string, field string) string {
	for _, name := range members {
		v, ok := in[name]
		if !ok || v == nil {
			continue
		}
		out := map[string]any{}
		if Members[name](v, out) == nil {
			if _, ok := out[field]; ok {
				return name
			}
		}
	}
	return field
}
