package kms

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
)

// The OpenAPI response of every operation is declared here, apart from the
// path definitions, and attached once by attachResponses: a path or
// operation without an entry, or an entry naming an unknown field, fails
// Factory, so a new path cannot ship without its response schema.
// responses_test.go validates every response of the unit tests against
// these schemas in strict mode.

// responseField returns the response schema of a field: the same type and
// description as the request field of that name when there is one (one
// place for each description), never required, without request defaults.
func responseField(name string) (*framework.FieldSchema, error) {
	f, ok := responseFields[name]
	if !ok {
		return nil, fmt.Errorf("response field %q has no schema in responses.go", name)
	}
	return &framework.FieldSchema{Type: f.Type, Description: f.Description}, nil
}

// responseFields holds each response field's schema once. Fields that are
// also request fields are the request's shared schemas.
// responseFields is every response field's schema: the shared ones and
// those of the custom key store operations (custom_key_stores_responses.go).
var responseFields = union(sharedResponseFields, cksResponseFields)

var sharedResponseFields = map[string]*framework.FieldSchema{
	// Shared with requests (fields.go, path_policy.go).
	"key_id":             fieldKeyID,
	"tags":               fieldTags,
	"policy":             fieldPolicy,
	"encryption_context": fieldEncryptionContext,
	"key_material_id":    fieldKeyMaterialID,

	// Key metadata (AWS KeyMetadata).
	"arn":                             {Type: framework.TypeString, Description: "The key's ARN (arn:<partition>:kms:<region>:<account>:key/<key id>, see config)."},
	"creation_date":                   {Type: framework.TypeTime, Description: "When the item was created (RFC 3339)."},
	"description":                     {Type: framework.TypeString, Description: "The key's description."},
	"key_spec":                        {Type: framework.TypeString, Description: "The key's spec (SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, HMAC_256, ML_DSA_65, ...)."},
	"key_usage":                       {Type: framework.TypeString, Description: "The key's usage: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT."},
	"key_state":                       {Type: framework.TypeString, Description: "Key state: Enabled, Disabled, PendingDeletion, PendingImport, or Unavailable (a key in a custom key store that is not connected)."},
	"enabled":                         {Type: framework.TypeBool, Description: "Whether the key state is Enabled."},
	"origin":                          {Type: framework.TypeString, Description: "Origin of the key material: AWS_KMS, EXTERNAL (imported) or AWS_CLOUDHSM (in a custom key store's token)."},
	"key_manager":                     {Type: framework.TypeString, Description: "Always CUSTOMER."},
	"current_key_version":             {Type: framework.TypeInt, Description: "Version of the key material new ciphertexts and signatures use (absent before import)."},
	"aliases":                         {Type: framework.TypeStringSlice, Description: "Names of the aliases pointing at the key."},
	"encryption_algorithms":           {Type: framework.TypeStringSlice, Description: "Encryption algorithms the key offers (ENCRYPT_DECRYPT keys)."},
	"signing_algorithms":              {Type: framework.TypeStringSlice, Description: "Signing algorithms the key offers (SIGN_VERIFY keys)."},
	"mac_algorithms":                  {Type: framework.TypeStringSlice, Description: "MAC algorithms the key offers (GENERATE_VERIFY_MAC keys)."},
	"key_agreement_algorithms":        {Type: framework.TypeStringSlice, Description: "Key agreement algorithms the key offers (KEY_AGREEMENT keys)."},
	"encapsulation_algorithms":        {Type: framework.TypeStringSlice, Description: "Key encapsulation algorithms the key offers (ML-KEM keys)."},
	"expiration_model":                {Type: framework.TypeString, Description: "Imported key material: KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE."},
	"valid_to":                        {Type: framework.TypeTime, Description: "When imported key material expires (RFC 3339)."},
	"current_key_material_id":         {Type: framework.TypeString, Description: "Id of the key material new ciphertexts and signatures use (64 hexadecimal characters)."},
	"source_key_material_id":          {Type: framework.TypeString, Description: "Id of the key material the ciphertext was decrypted with."},
	"destination_key_material_id":     {Type: framework.TypeString, Description: "Id of the key material the new ciphertext was encrypted with."},
	"deletion_date":                   {Type: framework.TypeTime, Description: "When a key pending deletion is destroyed (RFC 3339)."},
	"pending_deletion_window_in_days": {Type: framework.TypeInt, Description: "The deletion window of a key pending deletion, in days."},
	"last_used_date":                  {Type: framework.TypeTime, Description: "When the key was last used successfully in a cryptographic operation (RFC 3339, minute resolution); absent if never."},
	"last_used_operation":             {Type: framework.TypeString, Description: "The AWS operation of that last use (Encrypt, Sign, ...)."},
	"key_creation_date":               {Type: framework.TypeTime, Description: "When the key was created (RFC 3339)."},
	"tracking_start_date":             {Type: framework.TypeTime, Description: "Since when key usage is tracked (RFC 3339)."},
	"offset_seconds":                  {Type: framework.TypeInt, Description: "How far the test clock runs ahead of the system clock, in seconds."},
	"now":                             {Type: framework.TypeTime, Description: "The plugin's current time (RFC 3339)."},
	"kms_request_id":                  {Type: framework.TypeString, Description: "Vault request id of the last use."},

	// Lists.
	"keys":        {Type: framework.TypeStringSlice, Description: "The names (ids) of the items on this page, sorted."},
	"key_info":    {Type: framework.TypeMap, Description: "Per item in keys, its details (see the operation's description)."},
	"truncated":   {Type: framework.TypeBool, Description: "Whether more items follow; if so, pass next_marker as after."},
	"next_marker": {Type: framework.TypeString, Description: "The after value for the next page (only when truncated)."},

	// Tags, aliases, grants, policy, rotation, import, configuration.
	"tag_keys":                      {Type: framework.TypeStringSlice, Description: "The key's tag keys, sorted."},
	"alias_name":                    {Type: framework.TypeString, Description: "The alias name, alias/<name>."},
	"alias_arn":                     {Type: framework.TypeString, Description: "The alias ARN."},
	"target_key_id":                 {Type: framework.TypeString, Description: "Id of the key the alias points at."},
	"last_updated_date":             {Type: framework.TypeTime, Description: "When the alias was last changed (RFC 3339)."},
	"grant_id":                      {Type: framework.TypeString, Description: "The grant's id."},
	"grant_token":                   {Type: framework.TypeString, Description: "A grant token, usable in grant_tokens before the grant is visible everywhere."},
	"policy_name":                   {Type: framework.TypeString, Description: "Always default, as in AWS."},
	"key_rotation_enabled":          {Type: framework.TypeBool, Description: "Whether automatic rotation is on."},
	"rotation_period_in_days":       {Type: framework.TypeInt, Description: "Days between automatic rotations (90..2560)."},
	"next_rotation_date":            {Type: framework.TypeTime, Description: "When the next automatic rotation is due (RFC 3339)."},
	"on_demand_rotations_remaining": {Type: framework.TypeInt, Description: "On-demand rotations left for the key (AWS allows 25)."},
	"import_token":                  {Type: framework.TypeString, Description: "Import token to send with the wrapped key material, base64."},
	"parameters_valid_to":           {Type: framework.TypeTime, Description: "When the wrapping key and import token expire (RFC 3339)."},
	"wrapping_key_spec":             {Type: framework.TypeString, Description: "Spec of the wrapping key (RSA_2048, RSA_3072, RSA_4096)."},
	"wrapping_algorithm":            {Type: framework.TypeString, Description: "Algorithm to wrap the key material with (RSAES_OAEP_SHA_256, ...)."},
	"partition":                     {Type: framework.TypeString, Description: "ARN partition of the mount's keys."},
	"region":                        {Type: framework.TypeString, Description: "ARN region of the mount's keys."},
	"account_id":                    {Type: framework.TypeString, Description: "ARN account id of the mount's keys."},
	"key_arn_format":                {Type: framework.TypeString, Description: "The mount's key ARNs, with <key id> as placeholder."},
	"data_key_pair_pool":            {Type: framework.TypeMap, Description: "Configured number of pre-generated data key pairs per key pair spec."},
	"data_key_pair_pool_ready":      {Type: framework.TypeMap, Description: "Number of pre-generated data key pairs ready now, per key pair spec."},
	"key_cache_size":                {Type: framework.TypeInt, Description: "Parsed keys kept in memory (LRU) in force."},

	// Cryptographic results. Binary values are base64.
	"ciphertext_blob":                  {Type: framework.TypeString, Description: "Ciphertext blob, base64."},
	"plaintext":                        {Type: framework.TypeString, Description: "Plaintext (or random bytes, or a data key), base64."},
	"encryption_algorithm":             {Type: framework.TypeString, Description: "The encryption algorithm used."},
	"source_key_id":                    {Type: framework.TypeString, Description: "Id of the key the ciphertext was decrypted with."},
	"source_encryption_algorithm":      {Type: framework.TypeString, Description: "The algorithm the ciphertext was decrypted with."},
	"destination_encryption_algorithm": {Type: framework.TypeString, Description: "The algorithm the new ciphertext was encrypted with."},
	"key_pair_spec":                    {Type: framework.TypeString, Description: "Spec of the data key pair."},
	"public_key":                       {Type: framework.TypeString, Description: "Public key: SubjectPublicKeyInfo DER, base64."},
	"public_key_pem":                   {Type: framework.TypeString, Description: "Public key, PEM."},
	"private_key_ciphertext_blob":      {Type: framework.TypeString, Description: "The private key encrypted under the KMS key, base64."},
	"private_key_plaintext":            {Type: framework.TypeString, Description: "Private key: PKCS #8 DER, base64."},
	"private_key_pem":                  {Type: framework.TypeString, Description: "Private key, PKCS #8 PEM."},
	"signature":                        {Type: framework.TypeString, Description: "The signature, base64."},
	"signing_algorithm":                {Type: framework.TypeString, Description: "The signing algorithm used."},
	"signature_valid":                  {Type: framework.TypeBool, Description: "Always true: an invalid signature is a KMSInvalidSignatureException."},
	"mac":                              {Type: framework.TypeString, Description: "The MAC, base64."},
	"mac_algorithm":                    {Type: framework.TypeString, Description: "The MAC algorithm used."},
	"mac_valid":                        {Type: framework.TypeBool, Description: "Always true: an invalid MAC is a KMSInvalidMacException."},
	"shared_secret":                    {Type: framework.TypeString, Description: "The shared secret, base64."},
	"shared_secret_ciphertext_blob":    {Type: framework.TypeString, Description: "The encapsulated shared secret (KEM ciphertext), base64."},
	"key_agreement_algorithm":          {Type: framework.TypeString, Description: "The key agreement algorithm used (ECDH)."},
	"key_origin":                       {Type: framework.TypeString, Description: "Origin of the key material used."},
	"encapsulation_algorithm":          {Type: framework.TypeString, Description: "The key encapsulation algorithm used."},
	"batch_results": {Type: framework.TypeSlice, Description: "With batch_input: one result per item, in input order, each " +
		"holding the single form's fields, or error and error_type (the AWS exception) for a refused item."},
}

// opResponse is the success response of one operation: its fields, or
// none when fields is nil (an operation that returns nothing: Vault answers
// 204). The audit event is a header, not a field (audit.go).
type opResponse struct {
	desc   string
	fields []string
	// raw: the handler writes a raw HTTP body (logical.HTTPRawBody) of this
	// media type instead of Vault's JSON envelope.
	raw string
}

func okResp(desc string, fields ...[]string) opResponse {
	var all []string
	for _, f := range fields {
		all = append(all, f...)
	}
	if all == nil {
		all = []string{}
	}
	return opResponse{desc: desc, fields: all}
}

// noContent is the response of an operation that returns nothing.
func noContent(desc string) opResponse { return opResponse{desc: desc} }

func fieldList(n ...string) []string { return n }

// batch adds batch_results to the fields of a batchable operation.
func withBatch(fields ...string) []string { return append(fields, "batch_results") }

var (
	keyMetadata = fieldList("key_id", "arn", "creation_date", "description", "key_spec", "key_usage", "key_state",
		"enabled", "origin", "key_manager", "current_key_version", "current_key_material_id", "aliases", "encryption_algorithms",
		"signing_algorithms", "mac_algorithms", "key_agreement_algorithms", "encapsulation_algorithms",
		"expiration_model", "valid_to", "deletion_date", "pending_deletion_window_in_days",
		"custom_key_store_id", "cloud_hsm_cluster_id")
	listFields  = fieldList("keys", "key_info", "truncated", "next_marker")
	aliasFields = fieldList("alias_name", "alias_arn", "target_key_id", "creation_date", "last_updated_date")
	tagFields   = fieldList("key_id", "tags", "tag_keys")
	policyData  = fieldList("key_id", "policy_name", "policy")
	rotationRes = fieldList("key_id", "key_rotation_enabled", "rotation_period_in_days", "next_rotation_date", "on_demand_rotations_remaining")
	configData  = fieldList("partition", "region", "account_id", "key_arn_format", "data_key_pair_pool", "data_key_pair_pool_ready", "key_cache_size")
	dataKeyPair = fieldList("key_id", "key_pair_spec", "public_key", "public_key_pem", "private_key_ciphertext_blob", "key_material_id")
	publicKey   = fieldList("key_id", "key_spec", "key_usage", "public_key", "public_key_pem", "encryption_algorithms",
		"signing_algorithms", "key_agreement_algorithms", "encapsulation_algorithms")
)

const (
	keyMetaDesc = "Key metadata (AWS KeyMetadata) and the key's aliases."
	awsRawDesc  = "The AWS KMS JSON 1.1 protocol response, sent as a raw body (application/x-amz-json-1.1): " +
		"the operation's AWS response shape on success, {\"__type\": \"<Exception>\", \"message\": \"...\"} " +
		"with HTTP 400 on a refusal. See docs/AWS.md and the AWS KMS API reference."
)

// responseTable maps each path's route (its pattern with {field} for each
// captured field, without anchors) and operation to its success response.
// responseTable is every route's response schemas.
var responseTable = union(sharedResponses, cksResponses)

var sharedResponses = map[string]map[logical.Operation]opResponse{
	"keys": {
		logical.UpdateOperation: okResp(keyMetaDesc, keyMetadata),
		logical.ListOperation:   okResp("Key ids; key_info holds each key's key_id and arn.", listFields),
	},
	"keys/{key_id}": {
		logical.ReadOperation:   okResp(keyMetaDesc+" With its last use, as GetKeyLastUsage.", keyMetadata, fieldList("last_used_date", "last_used_operation")),
		logical.UpdateOperation: okResp(keyMetaDesc, keyMetadata),
	},
	"keys/{key_id}/enable":            {logical.UpdateOperation: okResp(keyMetaDesc, keyMetadata)},
	"keys/{key_id}/disable":           {logical.UpdateOperation: okResp(keyMetaDesc, keyMetadata)},
	"keys/{key_id}/schedule-deletion": {logical.UpdateOperation: okResp(keyMetaDesc+" With deletion_date.", keyMetadata)},
	"keys/{key_id}/cancel-deletion":   {logical.UpdateOperation: okResp(keyMetaDesc, keyMetadata)},
	"keys/{key_id}/tags": {
		logical.ReadOperation:   okResp("The key's tags.", tagFields),
		logical.UpdateOperation: okResp("The key's tags after the change.", tagFields),
	},
	"keys/{key_id}/untag": {logical.UpdateOperation: okResp("The key's tags after the change.", tagFields)},
	"keys/{key_id}/grants/{grant_id}": {
		logical.DeleteOperation: noContent("The grant is revoked."),
	},
	"keys/{key_id}/grants": {
		logical.UpdateOperation: okResp("The new grant.", fieldList("grant_id", "grant_token", "key_id")),
		logical.ListOperation: okResp("Grant ids; key_info holds each grant: grant_id, key_id, name, grantee_principal, "+
			"retiring_principal, issuing_principal, operations, creation_date, constraints.", listFields),
	},
	"keys/{key_id}/policy": {
		logical.ReadOperation:   okResp("The key policy.", policyData),
		logical.UpdateOperation: okResp("The key policy now in force.", policyData),
	},
	"keys/{key_id}/policies":   {logical.ListOperation: okResp("The key's policy names: always default.", listFields)},
	"policy-recovery/{key_id}": {logical.UpdateOperation: okResp("The key policy now in force.", policyData)},
	"keys/{key_id}/rotation": {
		logical.ReadOperation:   okResp("The key's rotation status (GetKeyRotationStatus).", rotationRes),
		logical.UpdateOperation: okResp("The key's rotation status after the change.", rotationRes),
		logical.DeleteOperation: noContent("Automatic rotation is off."),
	},
	"keys/{key_id}/rotate": {logical.UpdateOperation: okResp("The key's new current version and key material.", fieldList("key_id", "current_key_version", "key_material_id"))},
	"keys/{key_id}/rotations": {logical.ListOperation: okResp("Key material versions; key_info holds each one's key_id, "+
		"key_version, key_material_id, key_material_state, rotation_date and rotation_type.", listFields)},
	"keys/{key_id}/import-parameters": {logical.UpdateOperation: okResp("The wrapping public key and import token (GetParametersForImport).",
		fieldList("key_id", "public_key", "import_token", "parameters_valid_to", "wrapping_key_spec", "wrapping_algorithm"))},
	"keys/{key_id}/import": {
		logical.UpdateOperation: okResp(keyMetaDesc+" With the imported key_material_id.", keyMetadata, fieldList("key_material_id")),
		logical.DeleteOperation: okResp("The imported key material is deleted; the key is PendingImport.", fieldList("key_id", "key_material_id")),
	},
	"keys/{key_id}/public-key": {logical.ReadOperation: okResp("The public key and what it may be used for.", publicKey)},
	"keys/{key_id}/last-usage": {logical.ReadOperation: okResp("When and how the key was last used (GetKeyLastUsage).",
		fieldList("key_id", "key_creation_date", "tracking_start_date", "last_used_date", "last_used_operation", "kms_request_id"))},
	"aliases": {logical.ListOperation: okResp("Alias names; key_info holds each alias: "+strings.Join(aliasFields, ", ")+".", listFields)},
	"aliases/{name}": {
		logical.ReadOperation:   okResp("The alias.", aliasFields),
		logical.CreateOperation: okResp("The new alias.", aliasFields),
		logical.UpdateOperation: okResp("The new alias.", aliasFields),
		logical.PatchOperation:  okResp("The alias after the change.", aliasFields),
		logical.DeleteOperation: noContent("The alias is deleted."),
	},
	"grants/retire":    {logical.UpdateOperation: noContent("The grant is retired.")},
	"grants/retirable": {logical.ListOperation: okResp("The caller's retirable grants, as keys/<key>/grants lists them.", listFields)},
	"config": {
		logical.ReadOperation:   okResp("The mount's configuration.", configData),
		logical.UpdateOperation: okResp("The mount's configuration after the change.", configData),
	},
	"encrypt/{key_id}": {logical.UpdateOperation: okResp("The ciphertext.", withBatch("ciphertext_blob", "key_id", "encryption_algorithm"))},
	"decrypt":          {logical.UpdateOperation: okResp("The plaintext.", withBatch("plaintext", "key_id", "encryption_algorithm", "key_material_id"))},
	"decrypt/{key_id}": {logical.UpdateOperation: okResp("The plaintext.", withBatch("plaintext", "key_id", "encryption_algorithm", "key_material_id"))},
	"re-encrypt/{key_id}": {logical.UpdateOperation: okResp("The new ciphertext.", withBatch("ciphertext_blob", "key_id", "source_key_id",
		"source_encryption_algorithm", "destination_encryption_algorithm", "source_key_material_id", "destination_key_material_id"))},
	"data-key/plaintext/{key_id}": {logical.UpdateOperation: okResp("The data key, plaintext and encrypted.", fieldList("key_id", "ciphertext_blob", "plaintext", "key_material_id"))},
	"data-key/wrapped/{key_id}":   {logical.UpdateOperation: okResp("The encrypted data key.", fieldList("key_id", "ciphertext_blob", "key_material_id"))},
	"data-key-pair/plaintext/{key_id}": {logical.UpdateOperation: okResp("The data key pair; the private key plaintext and encrypted.",
		dataKeyPair, fieldList("private_key_plaintext", "private_key_pem"))},
	"data-key-pair/wrapped/{key_id}": {logical.UpdateOperation: okResp("The data key pair; the private key encrypted only.", dataKeyPair)},
	"sign/{key_id}":                  {logical.UpdateOperation: okResp("The signature.", withBatch("key_id", "signature", "signing_algorithm"))},
	"verify/{key_id}":                {logical.UpdateOperation: okResp("The signature is valid.", withBatch("key_id", "signature_valid", "signing_algorithm"))},
	"generate-mac/{key_id}":          {logical.UpdateOperation: okResp("The MAC.", withBatch("key_id", "mac", "mac_algorithm"))},
	"verify-mac/{key_id}":            {logical.UpdateOperation: okResp("The MAC is valid.", withBatch("key_id", "mac_valid", "mac_algorithm"))},
	"derive-shared-secret/{key_id}": {logical.UpdateOperation: okResp("The ECDH shared secret.",
		fieldList("key_id", "shared_secret", "key_agreement_algorithm", "key_origin"))},
	"random": {logical.UpdateOperation: okResp("Random bytes.", fieldList("plaintext"))},
	"encapsulate/{key_id}": {logical.UpdateOperation: okResp("A shared secret and its encapsulation.",
		withBatch("key_id", "shared_secret", "shared_secret_ciphertext_blob", "encapsulation_algorithm"))},
	"decapsulate/{key_id}": {logical.UpdateOperation: okResp("The shared secret.", withBatch("key_id", "shared_secret", "encapsulation_algorithm"))},
	"aws/{operation}":      {logical.UpdateOperation: {desc: awsRawDesc, raw: awsapi.ContentType}},
	testClockPath: {
		logical.ReadOperation:   okResp("The test clock.", fieldList("offset_seconds", "now")),
		logical.UpdateOperation: okResp("The test clock after the change.", fieldList("offset_seconds", "now")),
		logical.DeleteOperation: noContent("The plugin runs on the system clock again."),
	},
}

// optionalRoutes exist only in some builds: the test clock only when the
// plugin starts with VAULT_KMS_TEST_CLOCK.
var optionalRoutes = map[string]bool{testClockPath: true}

var (
	namedGroup = regexp.MustCompile(`\(\?P<(\w+)>[^)]*\)`)
	optGroup   = regexp.MustCompile(`\(\?:([^)]*)\)\?`)
)

// routeOf names a path pattern as responseTable does: keys/(?P<key_id>.+)$
// is keys/{key_id}, so a change to a capture's regular expression keeps the
// entry.
func routeOf(pattern string) string {
	r := namedGroup.ReplaceAllString(pattern, "{$1}")
	r = optGroup.ReplaceAllString(r, "$1")
	r = strings.TrimSuffix(strings.TrimPrefix(r, "^"), "$")
	return strings.TrimSuffix(strings.TrimSuffix(r, "?"), "/")
}

// attachResponses sets Responses on every operation of every path from
// responseTable. Every path and operation must have an entry and every
// entry a path and operation.
func attachResponses(paths []*framework.Path) error {
	var errs []string
	seen := map[string]bool{}
	for _, p := range paths {
		route := routeOf(p.Pattern)
		entries, ok := responseTable[route]
		if !ok {
			errs = append(errs, fmt.Sprintf("path %s (%s) has no entry in responseTable", route, p.Pattern))
			continue
		}
		seen[route] = true
		for op, h := range p.Operations {
			po, ok := h.(*framework.PathOperation)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s %s: handler %T is not a *framework.PathOperation", op, route, h))
				continue
			}
			r, ok := entries[op]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s %s has no response in responseTable", op, route))
				continue
			}
			resp, status, err := r.build()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s %s: %v", op, route, err))
				continue
			}
			po.Responses = map[int][]framework.Response{status: {resp}}
		}
		for op := range entries {
			if _, ok := p.Operations[op]; !ok {
				errs = append(errs, fmt.Sprintf("responseTable has %s %s, which the path does not serve", op, route))
			}
		}
	}
	for route := range responseTable {
		if !seen[route] && !optionalRoutes[route] {
			errs = append(errs, fmt.Sprintf("responseTable has %s, which is no path", route))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("OpenAPI responses: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (r opResponse) build() (framework.Response, int, error) {
	switch {
	case r.raw != "":
		return framework.Response{Description: r.desc, MediaType: r.raw}, http.StatusOK, nil
	case r.fields == nil:
		return framework.Response{Description: r.desc}, http.StatusNoContent, nil
	}
	fields := make(map[string]*framework.FieldSchema, len(r.fields))
	for _, n := range r.fields {
		f, err := responseField(n)
		if err != nil {
			return framework.Response{}, 0, err
		}
		fields[n] = f
	}
	return framework.Response{Description: r.desc, Fields: fields}, http.StatusOK, nil
}

// kebab turns an AWS operation name into an OpenAPI operation verb:
// ScheduleKeyDeletion is schedule-key-deletion.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// inlineSchemaRefs replaces each request and response schema reference of
// the OpenAPI document by the schema it names. An external plugin's
// document reaches Vault as a map that Vault decodes with
// framework.NewOASDocumentFromMap, whose mapstructure decoding drops "$ref"
// (OASSchema.Ref has only a json tag): referenced schemas would be served
// as {}, untyped. Inline schemas survive the transport.
func inlineSchemaRefs(req *logical.Request, resp *logical.Response) {
	if req.Operation != logical.HelpOperation || resp == nil {
		return
	}
	doc, ok := resp.Data["openapi"].(*framework.OASDocument)
	if !ok {
		return
	}
	inline := func(c framework.OASContent) {
		for _, m := range c {
			if m == nil || m.Schema == nil || m.Schema.Ref == "" {
				continue
			}
			if s, ok := doc.Components.Schemas[strings.TrimPrefix(m.Schema.Ref, "#/components/schemas/")]; ok {
				m.Schema = s
			}
		}
	}
	for _, item := range doc.Paths {
		for _, op := range []*framework.OASOperation{item.Get, item.Post, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			if op.RequestBody != nil {
				inline(op.RequestBody.Content)
			}
			for _, r := range op.Responses {
				inline(r.Content)
			}
		}
	}
}

// union is the maps' entries together; a key in two of them is a mistake
// caught at start.
func union[V any](maps ...map[string]V) map[string]V {
	out := map[string]V{}
	for _, m := range maps {
		for k, v := range m {
			if _, dup := out[k]; dup {
				panic("response schema defined twice: " + k)
			}
			out[k] = v
		}
	}
	return out
}
