package kms

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
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
		return nil, "", kmserr.Validationf("limit must be between 1 and %d", keyspec.MaxListLimit)
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

// fieldTypeNames says what a field of each type takes, for the error that
// refuses a value of another type.
var fieldTypeNames = map[framework.FieldType]string{
	framework.TypeBool:                 "a boolean",
	framework.TypeInt:                  "an integer",
	framework.TypeInt64:                "an integer",
	framework.TypeFloat:                "a number",
	framework.TypeString:               "a string",
	framework.TypeLowerCaseString:      "a string",
	framework.TypeNameString:           "a name (letters, digits, '-', '_' and '.')",
	framework.TypeMap:                  "an object",
	framework.TypeKVPairs:              "key=value pairs (an object of strings, or a list of key=value strings)",
	framework.TypeSlice:                "a list",
	framework.TypeStringSlice:          "a list of strings",
	framework.TypeCommaStringSlice:     "a list of strings (or one comma-separated string)",
	framework.TypeCommaIntSlice:        "a list of integers",
	framework.TypeDurationSecond:       "a duration (seconds, or a string such as 1h30m)",
	framework.TypeSignedDurationSecond: "a duration (seconds, or a string such as 1h30m)",
	framework.TypeTime:                 "a time (RFC 3339, or epoch seconds)",
	framework.TypeHeader:               "HTTP headers",
}

// checkFields decodes each field of d that its schema knows, in name
// order, and refuses the first one that does not decode with a
// ValidationException naming the field (as label spells it for the
// client) and the type it takes. It is the one check of field types: the
// framework's own error quotes the value ("..., value: '[CARD-4111...]'"),
// and an error goes to the client, into kms_audit's errorMessage (in
// clear in the audit log) and into the server log, so a malformed secret
// would be copied to all three.
func checkFields(d *framework.FieldData, label func(field string) string) *kmserr.Error {
	names := make([]string, 0, len(d.Raw))
	for name := range d.Raw {
		if _, ok := d.Schema[name]; ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if _, _, err := d.GetOkErr(name); err != nil {
			want := fieldTypeNames[d.Schema[name].Type]
			if want == "" {
				want = "of type " + d.Schema[name].Type.String()
			}
			if label != nil {
				name = label(name)
			}
			return kmserr.New(kmserr.Validation, "%s must be %s", name, want)
		}
	}
	return nil
}

var pathPatterns sync.Map // pattern -> *regexp.Regexp

// pathCaptures returns the values a path's pattern captures from reqPath
// (key_id, name, ...), which the framework puts over the request's fields.
func pathCaptures(p *framework.Path, reqPath string) map[string]string {
	re, ok := pathPatterns.Load(p.Pattern)
	if !ok {
		c, err := regexp.Compile(p.Pattern)
		if err != nil {
			return nil
		}
		re, _ = pathPatterns.LoadOrStore(p.Pattern, c)
	}
	r := re.(*regexp.Regexp)
	m := r.FindStringSubmatch(reqPath)
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for i, name := range r.SubexpNames() {
		if name != "" && m[i] != "" {
			out[name] = m[i]
		}
	}
	return out
}

// checkRequestFields is checkFields over a Vault-style request's fields as
// the framework sees them: the body, with the path's captures over it.
func (b *backend) checkRequestFields(req *logical.Request) *kmserr.Error {
	p := b.Route(req.Path)
	if p == nil {
		return nil
	}
	raw := make(map[string]any, len(req.Data))
	for k, v := range req.Data {
		raw[k] = v
	}
	for k, v := range pathCaptures(p, req.Path) {
		raw[k] = v
	}
	return checkFields(&framework.FieldData{Raw: raw, Schema: p.Fields}, nil)
}

var (
	fieldPolicy = &framework.FieldSchema{Type: framework.TypeString,
		Description: `Key policy document (JSON), AWS's language: {"Version":"2012-10-17","Statement":[{"Sid":"...","Effect":"Allow|Deny","Principal":{"AWS":"arn:aws:iam::<account>:role/payments"},"Action":["kms:Encrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:k":"v"}}}]}.`}
	fieldBypassLockout = &framework.FieldSchema{Type: framework.TypeBool,
		Description: "Skip the check that the caller could still change the policy afterwards."}
)

func validateAliasName(name string) error {
	switch {
	case !strings.HasPrefix(name, "alias/"):
		return errAliasPrefix()
	case len(name) > keyspec.MaxAliasName:
		return kmserr.New(kmserr.Validation, "an alias name is at most %d characters", keyspec.MaxAliasName)
	case !keystore.AliasPattern.MatchString(name):
		return kmserr.New(kmserr.InvalidAliasName, "an alias name must be alias/ followed by letters, digits, /, _ or -")
	case strings.HasPrefix(name, "alias/aws/"):
		return kmserr.New(kmserr.InvalidAliasName, "alias names beginning with alias/aws/ are reserved for AWS managed keys")
	}
	return nil
}

// validateTags checks tags about to be added to a key that keeps `others`
// other tags.
func validateTags(tags map[string]string, others int) error {
	if others+len(tags) > keyspec.MaxTags {
		return kmserr.New(kmserr.Tag, "a key can have at most %d tags", keyspec.MaxTags)
	}
	for k, v := range tags {
		n := utf8.RuneCountInString(k)
		switch {
		case n < 1 || n > keyspec.MaxTagKey:
			return kmserr.New(kmserr.Tag, "a tag key must be 1 to %d characters", keyspec.MaxTagKey)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return kmserr.New(kmserr.Tag, "a tag key uses the reserved prefix aws:")
		case !tagChars.MatchString(k):
			return kmserr.New(kmserr.Tag, "a tag key has characters outside letters, digits, spaces and _.:/=+-@")
		case utf8.RuneCountInString(v) > keyspec.MaxTagValue:
			return kmserr.New(kmserr.Tag, "a tag value is longer than %d characters", keyspec.MaxTagValue)
		case !tagChars.MatchString(v):
			return kmserr.New(kmserr.Tag, "a tag value has characters outside letters, digits, spaces and _.:/=+-@")
		}
	}
	return nil
}

// errAliasPrefix refuses an alias named by a short form. AWS requires the
// full name, alias/<name>, everywhere; here it also keeps alias names under
// Vault ACL control: aliases/prod-orders, or CreateKey's alias=prod-orders,
// would name alias/prod-orders by a path or field value that a rule on
// kms/aliases/alias/prod-* or a denied_parameters glob alias/prod-* does not
// match. Reads and deletes take the full name too, so a rule that hides or
// protects alias names holds for them as well.
func errAliasPrefix() error {
	return kmserr.Validationf(`Alias must start with the prefix "alias/"`)
}

// AWS's tag character set: letters, digits, white space and _ . : / = + - @.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
