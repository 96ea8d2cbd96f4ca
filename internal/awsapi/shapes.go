package awsapi

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// AWS wire shapes: the Vault-style responses to AWS's output shapes. Blobs
// are base64 on both sides; AWS timestamps are epoch seconds where ours
// are RFC 3339.

// result is a Vault-style response on its way to AWS's shape.
type result struct {
	in   map[string]any // the Vault-style fields of the request
	data map[string]any
	Env
}

// keyARN is the ARN of the key whose id is in field.
func (x result) keyARN(field string) any {
	if id, ok := x.data[field].(string); ok && id != "" && x.KeyARN != nil {
		return x.KeyARN(id)
	}
	return nil
}

// shape renames response fields: pairs of AWS member and Vault field.
// Absent fields stay absent.
func shape(pairs ...string) func(result) map[string]any {
	return func(x result) map[string]any {
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
func keyShape(pairs ...string) func(result) map[string]any {
	return func(x result) map[string]any {
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

func keyMetadata(x result) map[string]any {
	d := x.data
	m := shape("KeyId", "key_id", "Arn", "arn", "Description", "description", "Enabled", "enabled", "KeyUsage", "key_usage",
		"KeyState", "key_state", "Origin", "origin", "KeyManager", "key_manager", "KeySpec", "key_spec",
		"CustomerMasterKeySpec", "key_spec", "ExpirationModel", "expiration_model",
		"EncryptionAlgorithms", "encryption_algorithms", "SigningAlgorithms", "signing_algorithms",
		"MacAlgorithms", "mac_algorithms", "KeyAgreementAlgorithms", "key_agreement_algorithms",
		"EncapsulationAlgorithms", "encapsulation_algorithms",
		"PendingDeletionWindowInDays", "pending_deletion_window_in_days", "CurrentKeyMaterialId", "current_key_material_id",
		"CustomKeyStoreId", "custom_key_store_id", "CloudHsmClusterId", "cloud_hsm_cluster_id")(x)
	m["AWSAccountId"] = x.Account
	m["MultiRegion"] = false
	m["CreationDate"] = epoch(d["creation_date"])
	for member, field := range map[string]string{"DeletionDate": "deletion_date", "ValidTo": "valid_to"} {
		if v, ok := d[field]; ok {
			m[member] = epoch(v)
		}
	}
	return map[string]any{"KeyMetadata": m}
}

// page is a Vault list response (keys, key_info, next_marker) as an AWS
// page: the entries under member, in order, with NextMarker and Truncated.
func page(x result, member string, entry func(name string, info map[string]any) map[string]any) map[string]any {
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

func listKeys(x result) map[string]any {
	return page(x, "Keys", func(id string, info map[string]any) map[string]any {
		return map[string]any{"KeyId": id, "KeyArn": info["arn"]}
	})
}

func listAliases(x result) map[string]any {
	return page(x, "Aliases", func(_ string, info map[string]any) map[string]any {
		return map[string]any{"AliasName": info["alias_name"], "AliasArn": info["alias_arn"], "TargetKeyId": info["target_key_id"],
			"CreationDate": epoch(info["creation_date"]), "LastUpdatedDate": epoch(info["last_updated_date"])}
	})
}

func listGrants(x result) map[string]any {
	return page(x, "Grants", func(_ string, g map[string]any) map[string]any {
		e := shape("GrantId", "grant_id", "Name", "name", "GranteePrincipal", "grantee_principal", "RetiringPrincipal", "retiring_principal",
			"IssuingAccount", "issuing_principal", "Operations", "operations")(result{data: g})
		e["KeyId"] = result{data: g, Env: x.Env}.keyARN("key_id")
		e["CreationDate"] = epoch(g["creation_date"])
		if c, ok := g["constraints"].(map[string]any); ok {
			e["Constraints"] = shape("EncryptionContextEquals", "encryption_context_equals",
				"EncryptionContextSubset", "encryption_context_subset")(result{data: c})
		}
		return e
	})
}

func listRotations(x result) map[string]any {
	return page(x, "Rotations", func(_ string, info map[string]any) map[string]any {
		m := shape("KeyId", "key_id", "RotationType", "rotation_type", "KeyMaterialId", "key_material_id",
			"KeyMaterialState", "key_material_state", "KeyMaterialDescription", "key_material_description",
			"ImportState", "import_state", "ExpirationModel", "expiration_model")(result{data: info})
		for member, field := range map[string]string{"RotationDate": "rotation_date", "ValidTo": "valid_to"} {
			if v, ok := info[field]; ok {
				m[member] = epoch(v)
			}
		}
		return m
	})
}

func listTags(x result) (map[string]any, error) {
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

func listCustomKeyStores(x result) map[string]any {
	return page(x, "CustomKeyStores", func(_ string, info map[string]any) map[string]any {
		m := shape("CustomKeyStoreId", "custom_key_store_id", "CustomKeyStoreName", "custom_key_store_name",
			"CustomKeyStoreType", "custom_key_store_type", "CloudHsmClusterId", "cloud_hsm_cluster_id",
			"ConnectionState", "connection_state", "ConnectionErrorCode", "connection_error_code",
			"TrustAnchorCertificate", "trust_anchor_certificate")(result{data: info})
		m["CreationDate"] = epoch(info["creation_date"])
		return m
	})
}
