package awsapi

import (
	"fmt"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// Op maps one AWS KMS operation onto the Vault-style path that serves
// it. The path's handler holds all the semantics; an Op only renames
// request members (Members) and reshapes the response.
type Op struct {
	Route   string // the Vault-style path, as the docs name it
	Op      logical.Operation
	Members []string // every AWS request member of the operation: each is honoured or refused (see members.go)
	out     func(result) map[string]any
	// outE is out for a reshaping that can refuse the request (paging
	// done here rather than by the Vault-style path).
	outE func(result) (map[string]any, error)
}

// Request members by operation family.
var (
	mKey       = []string{"KeyId"}
	mKeyTokens = []string{"KeyId", "GrantTokens"}
	// A cryptographic operation: key, grant tokens and DryRun.
	mCrypto  = []string{"KeyId", "GrantTokens", "DryRun"}
	mList    = []string{"Limit", "Marker"}
	mKeyList = []string{"KeyId", "Limit", "Marker"}
)

func with(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

// Operations is every AWS KMS operation the plugin implements. The
// route is the Vault-style path whose handler runs (docs/AWS.md lists them).
var Operations = map[string]Op{
	// Keys
	"CreateKey": {Route: "keys", Op: logical.UpdateOperation, out: keyMetadata,
		Members: []string{"Description", "KeyUsage", "KeySpec", "CustomerMasterKeySpec", "Origin", "Policy", "BypassPolicyLockoutSafetyCheck", "Tags",
			"CustomKeyStoreId", "XksKeyId", "MultiRegion"}},
	"DescribeKey":          {Route: "keys/:key", Op: logical.ReadOperation, Members: mKeyTokens, out: keyMetadata},
	"ListKeys":             {Route: "keys", Op: logical.ListOperation, Members: mList, out: listKeys},
	"UpdateKeyDescription": {Route: "keys/:key", Op: logical.UpdateOperation, Members: with(mKey, "Description")},
	"EnableKey":            {Route: "keys/:key/enable", Op: logical.UpdateOperation, Members: mKey},
	"DisableKey":           {Route: "keys/:key/disable", Op: logical.UpdateOperation, Members: mKey},
	"ScheduleKeyDeletion": {Route: "keys/:key/schedule-deletion", Op: logical.UpdateOperation, Members: with(mKey, "PendingWindowInDays"),
		out: func(o result) map[string]any {
			return map[string]any{"KeyId": o.data["arn"], "KeyState": o.data["key_state"], "DeletionDate": epoch(o.data["deletion_date"]),
				"PendingWindowInDays": o.data["pending_deletion_window_in_days"]}
		}},
	"CancelKeyDeletion": {Route: "keys/:key/cancel-deletion", Op: logical.UpdateOperation, Members: mKey,
		out: func(o result) map[string]any { return map[string]any{"KeyId": o.data["arn"]} }},

	// Cryptographic operations
	"Encrypt": {Route: "encrypt/:key", Op: logical.UpdateOperation,
		Members: with(mCrypto, "Plaintext", "EncryptionContext", "EncryptionAlgorithm"),
		out:     keyShape("CiphertextBlob", "ciphertext_blob", "EncryptionAlgorithm", "encryption_algorithm")},
	"Decrypt": {Route: "decrypt", Op: logical.UpdateOperation,
		Members: with(mCrypto, "CiphertextBlob", "EncryptionContext", "EncryptionAlgorithm", "DryRunModifiers", "Recipient"),
		out:     keyShape("Plaintext", "plaintext", "EncryptionAlgorithm", "encryption_algorithm", "KeyMaterialId", "key_material_id")},
	"ReEncrypt": {Route: "re-encrypt/:key", Op: logical.UpdateOperation,
		Members: []string{"CiphertextBlob", "SourceEncryptionContext", "SourceKeyId", "DestinationKeyId", "DestinationEncryptionContext",
			"SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm", "GrantTokens", "DryRun", "DryRunModifiers"},
		out: func(x result) map[string]any {
			m := keyShape("CiphertextBlob", "ciphertext_blob", "SourceEncryptionAlgorithm", "source_encryption_algorithm",
				"DestinationEncryptionAlgorithm", "destination_encryption_algorithm",
				"SourceKeyMaterialId", "source_key_material_id", "DestinationKeyMaterialId", "destination_key_material_id")(x)
			m["SourceKeyId"] = x.keyARN("source_key_id")
			return m
		}},
	"Sign": {Route: "sign/:key", Op: logical.UpdateOperation, Members: with(mCrypto, "Message", "MessageType", "SigningAlgorithm"),
		out: keyShape("Signature", "signature", "SigningAlgorithm", "signing_algorithm")},
	"Verify": {Route: "verify/:key", Op: logical.UpdateOperation, Members: with(mCrypto, "Message", "MessageType", "Signature", "SigningAlgorithm"),
		out: keyShape("SignatureValid", "signature_valid", "SigningAlgorithm", "signing_algorithm")},
	"GetPublicKey": {Route: "keys/:key/public-key", Op: logical.ReadOperation, Members: mKeyTokens,
		out: keyShape("PublicKey", "public_key", "KeySpec", "key_spec", "CustomerMasterKeySpec", "key_spec", "KeyUsage", "key_usage",
			"EncryptionAlgorithms", "encryption_algorithms", "SigningAlgorithms", "signing_algorithms",
			"KeyAgreementAlgorithms", "key_agreement_algorithms", "EncapsulationAlgorithms", "encapsulation_algorithms")},
	"GenerateMac": {Route: "generate-mac/:key", Op: logical.UpdateOperation, Members: with(mCrypto, "Message", "MacAlgorithm"),
		out: keyShape("Mac", "mac", "MacAlgorithm", "mac_algorithm")},
	"VerifyMac": {Route: "verify-mac/:key", Op: logical.UpdateOperation, Members: with(mCrypto, "Message", "MacAlgorithm", "Mac"),
		out: keyShape("MacValid", "mac_valid", "MacAlgorithm", "mac_algorithm")},
	"GenerateRandom": {Route: "random", Op: logical.UpdateOperation, Members: []string{"NumberOfBytes", "CustomKeyStoreId", "Recipient"},
		out: func(x result) map[string]any { return map[string]any{"Plaintext": x.data["plaintext"]} }},
	"DeriveSharedSecret": {Route: "derive-shared-secret/:key", Op: logical.UpdateOperation,
		Members: with(mCrypto, "KeyAgreementAlgorithm", "PublicKey", "Recipient"),
		out:     keyShape("SharedSecret", "shared_secret", "KeyAgreementAlgorithm", "key_agreement_algorithm", "KeyOrigin", "key_origin")},
	"Encapsulate": {Route: "encapsulate/:key", Op: logical.UpdateOperation, Members: with(mCrypto, "EncapsulationAlgorithm"),
		out: keyShape("SharedSecret", "shared_secret", "SharedSecretCiphertextBlob", "shared_secret_ciphertext_blob",
			"EncapsulationAlgorithm", "encapsulation_algorithm")},
	"Decapsulate": {Route: "decapsulate/:key", Op: logical.UpdateOperation,
		Members: with(mCrypto, "EncapsulationAlgorithm", "SharedSecretCiphertextBlob"),
		out:     keyShape("SharedSecret", "shared_secret", "EncapsulationAlgorithm", "encapsulation_algorithm")},

	// Data keys
	"GenerateDataKey": {Route: "data-key/plaintext/:key", Op: logical.UpdateOperation, Members: with(mDataKey, "Recipient"),
		out: keyShape("CiphertextBlob", "ciphertext_blob", "Plaintext", "plaintext", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyWithoutPlaintext": {Route: "data-key/wrapped/:key", Op: logical.UpdateOperation, Members: mDataKey,
		out: keyShape("CiphertextBlob", "ciphertext_blob", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyPair": {Route: "data-key-pair/plaintext/:key", Op: logical.UpdateOperation, Members: with(mDataKeyPair, "Recipient"),
		out: keyShape("KeyPairSpec", "key_pair_spec", "PublicKey", "public_key", "PrivateKeyCiphertextBlob", "private_key_ciphertext_blob",
			"PrivateKeyPlaintext", "private_key_plaintext", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyPairWithoutPlaintext": {Route: "data-key-pair/wrapped/:key", Op: logical.UpdateOperation, Members: mDataKeyPair,
		out: keyShape("KeyPairSpec", "key_pair_spec", "PublicKey", "public_key", "PrivateKeyCiphertextBlob", "private_key_ciphertext_blob",
			"KeyMaterialId", "key_material_id")},

	// Aliases and tags
	"CreateAlias":   {Route: "aliases/:name", Op: logical.CreateOperation, Members: []string{"AliasName", "TargetKeyId"}},
	"UpdateAlias":   {Route: "aliases/:name", Op: logical.PatchOperation, Members: []string{"AliasName", "TargetKeyId"}},
	"DeleteAlias":   {Route: "aliases/:name", Op: logical.DeleteOperation, Members: []string{"AliasName"}},
	"ListAliases":   {Route: "aliases", Op: logical.ListOperation, Members: mKeyList, out: listAliases},
	"TagResource":   {Route: "keys/:key/tags", Op: logical.UpdateOperation, Members: with(mKey, "Tags")},
	"UntagResource": {Route: "keys/:key/untag", Op: logical.UpdateOperation, Members: with(mKey, "TagKeys")},
	// A key has at most 50 tags, AWS's largest page, so one page holds them.
	"ListResourceTags": {Route: "keys/:key/tags", Op: logical.ReadOperation, Members: mKeyList, outE: listTags},

	// Key policies and grants
	"GetKeyPolicy": {Route: "keys/:key/policy", Op: logical.ReadOperation, Members: with(mKey, "PolicyName"),
		out: shape("Policy", "policy", "PolicyName", "policy_name")},
	"PutKeyPolicy": {Route: "keys/:key/policy", Op: logical.UpdateOperation,
		Members: with(mKey, "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck")},
	"ListKeyPolicies": {Route: "keys/:key/policies", Op: logical.ListOperation, Members: mKeyList,
		out: func(x result) map[string]any {
			names, _ := x.data["keys"].([]string)
			m := map[string]any{"PolicyNames": append([]string{}, names...), "Truncated": false}
			if next, ok := x.data["next_marker"].(string); ok && next != "" {
				m["NextMarker"], m["Truncated"] = next, true
			}
			return m
		}},
	"CreateGrant": {Route: "keys/:key/grants", Op: logical.UpdateOperation,
		Members: with(mKeyTokens, "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name",
			"GranteeServicePrincipal", "RetiringServicePrincipal", "DryRun"),
		out: shape("GrantId", "grant_id", "GrantToken", "grant_token")},
	"ListGrants": {Route: "keys/:key/grants", Op: logical.ListOperation, Members: with(mKeyList, "GrantId", "GranteePrincipal", "GranteeServicePrincipal"),
		out: listGrants},
	"ListRetirableGrants": {Route: "grants/retirable", Op: logical.ListOperation, Members: with(mList, "RetiringPrincipal", "RetiringServicePrincipal"),
		out: listGrants},
	"RetireGrant": {Route: "grants/retire", Op: logical.UpdateOperation, Members: []string{"GrantToken", "KeyId", "GrantId", "DryRun"}},
	"RevokeGrant": {Route: "keys/:key/grants/:grant_id", Op: logical.DeleteOperation, Members: []string{"KeyId", "GrantId", "DryRun"}},

	// Rotation and import
	"EnableKeyRotation":  {Route: "keys/:key/rotation", Op: logical.UpdateOperation, Members: with(mKey, "RotationPeriodInDays")},
	"DisableKeyRotation": {Route: "keys/:key/rotation", Op: logical.DeleteOperation, Members: mKey},
	"GetKeyRotationStatus": {Route: "keys/:key/rotation", Op: logical.ReadOperation, Members: mKey,
		out: func(x result) map[string]any {
			m := keyShape("KeyRotationEnabled", "key_rotation_enabled", "RotationPeriodInDays", "rotation_period_in_days")(x)
			for member, field := range map[string]string{"NextRotationDate": "next_rotation_date",
				"OnDemandRotationStartDate": "on_demand_rotation_start_date"} {
				if v, ok := x.data[field]; ok {
					m[member] = epoch(v)
				}
			}
			return m
		}},
	"RotateKeyOnDemand": {Route: "keys/:key/rotate", Op: logical.UpdateOperation, Members: mKey,
		out: func(x result) map[string]any { return map[string]any{"KeyId": x.data["key_id"]} }},
	"ListKeyRotations": {Route: "keys/:key/rotations", Op: logical.ListOperation, Members: with(mKeyList, "IncludeKeyMaterial"), out: listRotations},
	"GetParametersForImport": {Route: "keys/:key/import-parameters", Op: logical.UpdateOperation,
		Members: with(mKey, "WrappingAlgorithm", "WrappingKeySpec"),
		out: func(x result) map[string]any {
			m := keyShape("PublicKey", "public_key")(x)
			m["ImportToken"] = blobOf(x.data["import_token"])
			m["ParametersValidTo"] = epoch(x.data["parameters_valid_to"])
			return m
		}},
	"ImportKeyMaterial": {Route: "keys/:key/import", Op: logical.UpdateOperation,
		Members: with(mKey, "ImportToken", "EncryptedKeyMaterial", "ExpirationModel", "ValidTo",
			"ImportType", "KeyMaterialId", "KeyMaterialDescription"),
		out: keyShape("KeyMaterialId", "key_material_id")},
	"DeleteImportedKeyMaterial": {Route: "keys/:key/import", Op: logical.DeleteOperation, Members: with(mKey, "KeyMaterialId"),
		out: keyShape("KeyMaterialId", "key_material_id")},
	"GetKeyLastUsage": {Route: "keys/:key/last-usage", Op: logical.ReadOperation, Members: mKey,
		out: func(x result) map[string]any {
			usage := map[string]any{}
			if op, ok := x.data["last_used_operation"]; ok {
				usage["Operation"], usage["Timestamp"] = op, epoch(x.data["last_used_date"])
				// Vault's request id: the audit log plays CloudTrail's part.
				if id, ok := x.data["kms_request_id"]; ok {
					usage["KmsRequestId"] = id
				}
			}
			return map[string]any{"KeyId": x.data["key_id"], "KeyCreationDate": epoch(x.data["key_creation_date"]),
				"TrackingStartDate": epoch(x.data["tracking_start_date"]), "KeyLastUsage": usage}
		}},

	// Custom key stores (AWS_CLOUDHSM over PKCS#11)
	"CreateCustomKeyStore": {Route: "custom-key-stores", Op: logical.UpdateOperation,
		Members: with(mXks, "CustomKeyStoreName", "CloudHsmClusterId", "CustomKeyStoreType", "KeyStorePassword", "TrustAnchorCertificate"),
		out:     shape("CustomKeyStoreId", "custom_key_store_id")},
	"DescribeCustomKeyStores": {Route: "custom-key-stores", Op: logical.ListOperation,
		Members: with(mList, "CustomKeyStoreId", "CustomKeyStoreName"), out: listCustomKeyStores},
	"ConnectCustomKeyStore": {Route: "custom-key-stores/:custom_key_store_id/connect", Op: logical.UpdateOperation,
		Members: []string{"CustomKeyStoreId"}},
	"DisconnectCustomKeyStore": {Route: "custom-key-stores/:custom_key_store_id/disconnect", Op: logical.UpdateOperation,
		Members: []string{"CustomKeyStoreId"}},
	"UpdateCustomKeyStore": {Route: "custom-key-stores/:custom_key_store_id", Op: logical.UpdateOperation,
		Members: with(mXks, "CustomKeyStoreId", "NewCustomKeyStoreName", "CloudHsmClusterId", "KeyStorePassword")},
	"DeleteCustomKeyStore": {Route: "custom-key-stores/:custom_key_store_id", Op: logical.DeleteOperation,
		Members: []string{"CustomKeyStoreId"}},
}

var (
	mDataKey     = with(mCrypto, "EncryptionContext", "NumberOfBytes", "KeySpec")
	mDataKeyPair = with(mCrypto, "EncryptionContext", "KeyPairSpec")
	// The external key store members of the custom key store operations,
	// all refused.
	mXks = []string{"XksProxyAuthenticationCredential", "XksProxyConnectivity", "XksProxyUriEndpoint", "XksProxyUriPath",
		"XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"}
)

// Unsupported are AWS KMS operations the plugin does not implement:
// multi-Region keys have no counterpart (Vault's replication plays that
// part).
var Unsupported = map[string]bool{
	"ReplicateKey": true, "UpdatePrimaryRegion": true,
}

// Routes finds, once, the path serving each operation (route is the
// backend's path lookup), so a request does not match patterns to find it.
func Routes(route func(path string) *framework.Path) (map[string]*framework.Path, error) {
	paths := make(map[string]*framework.Path, len(Operations))
	for name, op := range Operations {
		p := route(op.Route)
		if p == nil || p.Operations[op.Op] == nil {
			return nil, fmt.Errorf("AWS operation %s: no %s handler on %s", name, op.Op, op.Route)
		}
		paths[name] = p
	}
	return paths, nil
}
