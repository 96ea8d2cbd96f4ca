package kms

import (
	"sort"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

// keyRef captures a key reference in a path. Alias names contain slashes,
// so it is greedy; paths with a suffix after the key are registered before
// the bare keys/<key> path (framework matches in registration order).
const keyRef = "(?P<key_id>.+)"

// keyIDRef captures the key of a management path: a key id, never a
// segment with "/". A key ARN contains "/", so accepting it would let
// kms/keys/arn:...:key/<id>/policy sidestep a Vault ACL rule written as
// kms/keys/+/policy. The AWS endpoint, which has no path per key, still
// takes the ARN.
const keyIDRef = "(?P<key_id>[^/]+)"

// Shared field schemas, built once.
var (
	fieldKeyID = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "Key id, key ARN, alias name (alias/...) or alias ARN. Management paths take the key id only (the AWS endpoint also the key ARN).",
		Required:    true,
	}
	fieldLimit = &framework.FieldSchema{
		Type:        framework.TypeInt,
		Description: "Maximum number of items to return (1..1000, default 100).",
		Default:     keyspec.DefaultListLimit,
		Query:       true,
	}
	fieldAfter = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "Marker: return items after this one (the next_marker of the previous page).",
		Query:       true,
	}
	fieldEncryptionContext = &framework.FieldSchema{
		Type:        framework.TypeKVPairs,
		Description: "Encryption context: key=value pairs bound to the ciphertext (symmetric keys only). Decryption needs exactly the same context.",
	}
	fieldGrantTokens = &framework.FieldSchema{
		Type:        framework.TypeCommaStringSlice,
		Description: "Grant tokens (at most 10) that let a grant not yet visible be used.",
	}
	fieldBatchInput = &framework.FieldSchema{
		Type:        framework.TypeSlice,
		Description: "A list of items, each with the operation's fields (not key_id, which the path gives); at most 1000. Results come in batch_results, in order, each with its own error.",
	}
	fieldDryRun = &framework.FieldSchema{
		Type:        framework.TypeBool,
		Description: "Check the request (authorization, key state and usage, input) without performing it: success is a DryRunOperationException (HTTP 412), a refusal is the real call's.",
	}
	fieldDryRunModifiers = &framework.FieldSchema{
		Type:        framework.TypeCommaStringSlice,
		Description: "With dry_run: IGNORE_CIPHERTEXT checks access to the key named in the request (key_id, source_key_id) without opening the ciphertext.",
	}
	fieldTags = &framework.FieldSchema{
		Type:        framework.TypeKVPairs,
		Description: "Tags as key=value pairs (TagKey 1..128 characters, TagValue 0..256, at most 50 per key, aws: prefix reserved).",
	}
)

// cryptoFields returns the fields every cryptographic operation on a key
// takes (key_id, grant_tokens, dry_run, batch_input) and the given ones.
func cryptoFields(fields map[string]*framework.FieldSchema) map[string]*framework.FieldSchema {
	out := withKey(fields)
	out["grant_tokens"] = fieldGrantTokens
	out["dry_run"] = fieldDryRun
	out["batch_input"] = fieldBatchInput
	return out
}

// withKey returns a field map holding key_id and the given fields.
func withKey(fields map[string]*framework.FieldSchema) map[string]*framework.FieldSchema {
	out := map[string]*framework.FieldSchema{"key_id": fieldKeyID}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

var pagingFields = map[string]*framework.FieldSchema{"limit": fieldLimit, "after": fieldAfter}

// page applies limit and after to a sorted list of names.
func page(names []string, d *framework.FieldData) (out []string, next string, err error) {
	limit := d.Get("limit").(int)
	if limit < 1 || limit > keyspec.MaxListLimit {
		return nil, "", errValidation("limit must be between 1 and %d", keyspec.MaxListLimit)
	}
	start := 0
	if after := d.Get("after").(string); after != "" {
		start = sort.SearchStrings(names, after)
		if start < len(names) && names[start] == after {
			start++
		}
	}
	end := min(start+limit, len(names))
	out = names[start:end]
	if end < len(names) {
		next = names[end-1]
	}
	return out, next, nil
}

// listResponse builds a Vault list response with paging information.
func listResponse(names []string, info map[string]any, next string) *logical.Response {
	resp := logical.ListResponseWithInfo(names, info)
	resp.Data["truncated"] = next != ""
	if next != "" {
		resp.Data["next_marker"] = next
	}
	return resp
}

// Fields of keys with several imported key materials.
var (
	fieldImportType = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "NEW_KEY_MATERIAL (material the key never had; after the first it waits, PENDING_ROTATION, for keys/<key>/rotate) or EXISTING_KEY_MATERIAL (material the key had, e.g. after it was deleted or expired). Default: NEW for a key without material, else EXISTING.",
	}
	fieldKeyMaterialID = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "Key material id (64 hexadecimal characters). Default: the current key material.",
	}
	fieldKeyMaterialDescription = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "Description of the imported key material (at most 256 characters); kept when omitted.",
	}
	fieldIncludeKeyMaterial = &framework.FieldSchema{
		Type:        framework.TypeString,
		Default:     includeRotationsOnly,
		Description: "ROTATIONS_ONLY (default): the rotations; ALL_KEY_MATERIAL: every key material, the first and pending ones too.",
		Query:       true,
	}
)
