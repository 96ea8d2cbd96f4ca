package kms

import (
	"github.com/hashicorp/vault/sdk/logical"
)

// awsOp maps one AWS KMS operation onto the Vault-style path that serves
// it. The path's handler holds all the semantics; an awsOp only renames
// request members (awsMembers) and reshapes the response.
type awsOp struct {
	route   string // the Vault-style path, as the docs name it
	op      logical.Operation
	members []string // every AWS request member of the operation: each is honoured or refused (awsMembers)
	out     func(awsOut) map[string]any
	// outE is out for a reshaping that can refuse the request (paging
	// done here rather than by the Vault-style path).
	outE func(awsOut) (map[string]any, error)
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

// awsOperations is every AWS KMS operation the plugin implements. The
// route is the Vault-style path whose handler runs (docs/AWS.md lists them).
var awsOperations = map[string]awsOp{
	// Keys
	"CreateKey": {route: "keys", op: logical.UpdateOperation, out: awsKeyMetadata,
		members: []string{"Description", "KeyUsage", "KeySpec", "CustomerMasterKeySpec", "Origin", "Policy", "BypassPolicyLockoutSafetyCheck", "Tags",
			"CustomKeyStoreId", "XksKeyId", "MultiRegion"}},
	"DescribeKey":          {route: "keys/:key", op: logical.ReadOperation, members: mKeyTokens, out: awsKeyMetadata},
	"ListKeys":             {route: "keys", op: logical.ListOperation, members: mList, out: awsListKeys},
	"UpdateKeyDescription": {route: "keys/:key", op: logical.UpdateOperation, members: with(mKey, "Description")},
	"EnableKey":            {route: "keys/:key/enable", op: logical.UpdateOperation, members: mKey},
	"DisableKey":           {route: "keys/:key/disable", op: logical.UpdateOperation, members: mKey},
	"ScheduleKeyDeletion": {route: "keys/:key/schedule-deletion", op: logical.UpdateOperation, members: with(mKey, "PendingWindowInDays"),
		out: func(o awsOut) map[string]any {
			return map[string]any{"KeyId": o.data["arn"], "KeyState": o.data["key_state"], "DeletionDate": epoch(o.data["deletion_date"]),
				"PendingWindowInDays": o.data["pending_deletion_window_in_days"]}
		}},
	"CancelKeyDeletion": {route: "keys/:key/cancel-deletion", op: logical.UpdateOperation, members: mKey,
		out: func(o awsOut) map[string]any { return map[string]any{"KeyId": o.data["arn"]} }},

	// Cryptographic operations
	"Encrypt": {route: "encrypt/:key", op: logical.UpdateOperation,
		members: with(mCrypto, "Plaintext", "EncryptionContext", "EncryptionAlgorithm"),
		out:     keyShape("CiphertextBlob", "ciphertext_blob", "EncryptionAlgorithm", "encryption_algorithm")},
	"Decrypt": {route: "decrypt", op: logical.UpdateOperation,
		members: with(mCrypto, "CiphertextBlob", "EncryptionContext", "EncryptionAlgorithm", "DryRunModifiers", "Recipient"),
		out:     keyShape("Plaintext", "plaintext", "EncryptionAlgorithm", "encryption_algorithm", "KeyMaterialId", "key_material_id")},
	"ReEncrypt": {route: "re-encrypt/:key", op: logical.UpdateOperation,
		members: []string{"CiphertextBlob", "SourceEncryptionContext", "SourceKeyId", "DestinationKeyId", "DestinationEncryptionContext",
			"SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm", "GrantTokens", "DryRun", "DryRunModifiers"},
		out: func(x awsOut) map[string]any {
			m := keyShape("CiphertextBlob", "ciphertext_blob", "SourceEncryptionAlgorithm", "source_encryption_algorithm",
				"DestinationEncryptionAlgorithm", "destination_encryption_algorithm",
				"SourceKeyMaterialId", "source_key_material_id", "DestinationKeyMaterialId", "destination_key_material_id")(x)
			m["SourceKeyId"] = x.keyARN("source_key_id")
			return m
		}},
	"Sign": {route: "sign/:key", op: logical.UpdateOperation, members: with(mCrypto, "Message", "MessageType", "SigningAlgorithm"),
		out: keyShape("Signature", "signature", "SigningAlgorithm", "signing_algorithm")},
	"Verify": {route: "verify/:key", op: logical.UpdateOperation, members: with(mCrypto, "Message", "MessageType", "Signature", "SigningAlgorithm"),
		out: keyShape("SignatureValid", "signature_valid", "SigningAlgorithm", "signing_algorithm")},
	"GetPublicKey": {route: "keys/:key/public-key", op: logical.ReadOperation, members: mKeyTokens,
		out: keyShape("PublicKey", "public_key", "KeySpec", "key_spec", "CustomerMasterKeySpec", "key_spec", "KeyUsage", "key_usage",
			"EncryptionAlgorithms", "encryption_algorithms", "SigningAlgorithms", "signing_algorithms",
			"KeyAgreementAlgorithms", "key_agreement_algorithms", "EncapsulationAlgorithms", "encapsulation_algorithms")},
	"GenerateMac": {route: "generate-mac/:key", op: logical.UpdateOperation, members: with(mCrypto, "Message", "MacAlgorithm"),
		out: keyShape("Mac", "mac", "MacAlgorithm", "mac_algorithm")},
	"VerifyMac": {route: "verify-mac/:key", op: logical.UpdateOperation, members: with(mCrypto, "Message", "MacAlgorithm", "Mac"),
		out: keyShape("MacValid", "mac_valid", "MacAlgorithm", "mac_algorithm")},
	"GenerateRandom": {route: "random", op: logical.UpdateOperation, members: []string{"NumberOfBytes", "CustomKeyStoreId", "Recipient"},
		out: func(x awsOut) map[string]any { return map[string]any{"Plaintext": x.data["plaintext"]} }},
	"DeriveSharedSecret": {route: "derive-shared-secret/:key", op: logical.UpdateOperation,
		members: with(mCrypto, "KeyAgreementAlgorithm", "PublicKey", "Recipient"),
		out:     keyShape("SharedSecret", "shared_secret", "KeyAgreementAlgorithm", "key_agreement_algorithm", "KeyOrigin", "key_origin")},
	"Encapsulate": {route: "encapsulate/:key", op: logical.UpdateOperation, members: with(mCrypto, "EncapsulationAlgorithm"),
		out: keyShape("SharedSecret", "shared_secret", "SharedSecretCiphertextBlob", "shared_secret_ciphertext_blob",
			"EncapsulationAlgorithm", "encapsulation_algorithm")},
	"Decapsulate": {route: "decapsulate/:key", op: logical.UpdateOperation,
		members: with(mCrypto, "EncapsulationAlgorithm", "SharedSecretCiphertextBlob"),
		out:     keyShape("SharedSecret", "shared_secret", "EncapsulationAlgorithm", "encapsulation_algorithm")},

	// Data keys
	"GenerateDataKey": {route: "data-key/plaintext/:key", op: logical.UpdateOperation, members: with(mDataKey, "Recipient"),
		out: keyShape("CiphertextBlob", "ciphertext_blob", "Plaintext", "plaintext", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyWithoutPlaintext": {route: "data-key/wrapped/:key", op: logical.UpdateOperation, members: mDataKey,
		out: keyShape("CiphertextBlob", "ciphertext_blob", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyPair": {route: "data-key-pair/plaintext/:key", op: logical.UpdateOperation, members: with(mDataKeyPair, "Recipient"),
		out: keyShape("KeyPairSpec", "key_pair_spec", "PublicKey", "public_key", "PrivateKeyCiphertextBlob", "private_key_ciphertext_blob",
			"PrivateKeyPlaintext", "private_key_plaintext", "KeyMaterialId", "key_material_id")},
	"GenerateDataKeyPairWithoutPlaintext": {route: "data-key-pair/wrapped/:key", op: logical.UpdateOperation, members: mDataKeyPair,
		out: keyShape("KeyPairSpec", "key_pair_spec", "PublicKey", "public_key", "PrivateKeyCiphertextBlob", "private_key_ciphertext_blob",
			"KeyMaterialId", "key_material_id")},

	// Aliases and tags
	"CreateAlias":   {route: "aliases/:name", op: logical.CreateOperation, members: []string{"AliasName", "TargetKeyId"}},
	"UpdateAlias":   {route: "aliases/:name", op: logical.PatchOperation, members: []string{"AliasName", "TargetKeyId"}},
	"DeleteAlias":   {route: "aliases/:name", op: logical.DeleteOperation, members: []string{"AliasName"}},
	"ListAliases":   {route: "aliases", op: logical.ListOperation, members: mKeyList, out: awsListAliases},
	"TagResource":   {route: "keys/:key/tags", op: logical.UpdateOperation, members: with(mKey, "Tags")},
	"UntagResource": {route: "keys/:key/untag", op: logical.UpdateOperation, members: with(mKey, "TagKeys")},
	// A key has at most 50 tags, AWS's largest page, so one page holds them.
	"ListResourceTags": {route: "keys/:key/tags", op: logical.ReadOperation, members: mKeyList, outE: awsListTags},

	// Key policies and grants
	"GetKeyPolicy": {route: "keys/:key/policy", op: logical.ReadOperation, members: with(mKey, "PolicyName"),
		out: shape("Policy", "policy", "PolicyName", "policy_name")},
	"PutKeyPolicy": {route: "keys/:key/policy", op: logical.UpdateOperation,
		members: with(mKey, "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck")},
	"ListKeyPolicies": {route: "keys/:key/policies", op: logical.ListOperation, members: mKeyList,
		out: func(x awsOut) map[string]any {
			names, _ := x.data["keys"].([]string)
			m := map[string]any{"PolicyNames": append([]string{}, names...), "Truncated": false}
			if next, ok := x.data["next_marker"].(string); ok && next != "" {
				m["NextMarker"], m["Truncated"] = next, true
			}
			return m
		}},
	"CreateGrant": {route: "keys/:key/grants", op: logical.UpdateOperation,
		members: with(mKeyTokens, "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name",
			"GranteeServicePrincipal", "RetiringServicePrincipal", "DryRun"),
		out: shape("GrantId", "grant_id", "GrantToken", "grant_token")},
	"ListGrants": {route: "keys/:key/grants", op: logical.ListOperation, members: with(mKeyList, "GrantId", "GranteePrincipal", "GranteeServicePrincipal"),
		out: awsListGrants},
	"ListRetirableGrants": {route: "grants/retirable", op: logical.ListOperation, members: with(mList, "RetiringPrincipal", "RetiringServicePrincipal"),
		out: awsListGrants},
	"RetireGrant": {route: "grants/retire", op: logical.UpdateOperation, members: []string{"GrantToken", "KeyId", "GrantId", "DryRun"}},
	"RevokeGrant": {route: "keys/:key/grants/:grant_id", op: logical.DeleteOperation, members: []string{"KeyId", "GrantId", "DryRun"}},

	// Rotation and import
	"EnableKeyRotation":  {route: "keys/:key/rotation", op: logical.UpdateOperation, members: with(mKey, "RotationPeriodInDays")},
	"DisableKeyRotation": {route: "keys/:key/rotation", op: logical.DeleteOperation, members: mKey},
	"GetKeyRotationStatus": {route: "keys/:key/rotation", op: logical.ReadOperation, members: mKey,
		out: func(x awsOut) map[string]any {
			m := keyShape("KeyRotationEnabled", "key_rotation_enabled", "RotationPeriodInDays", "rotation_period_in_days")(x)
			for member, field := range map[string]string{"NextRotationDate": "next_rotation_date",
				"OnDemandRotationStartDate": "on_demand_rotation_start_date"} {
				if v, ok := x.data[field]; ok {
					m[member] = epoch(v)
				}
			}
			return m
		}},
	"RotateKeyOnDemand": {route: "keys/:key/rotate", op: logical.UpdateOperation, members: mKey,
		out: func(x awsOut) map[string]any { return map[string]any{"KeyId": x.data["key_id"]} }},
	"ListKeyRotations": {route: "keys/:key/rotations", op: logical.ListOperation, members: with(mKeyList, "IncludeKeyMaterial"), out: awsListRotations},
	"GetParametersForImport": {route: "keys/:key/import-parameters", op: logical.UpdateOperation,
		members: with(mKey, "WrappingAlgorithm", "WrappingKeySpec"),
		out: func(x awsOut) map[string]any {
			m := keyShape("PublicKey", "public_key")(x)
			m["ImportToken"] = blobOf(x.data["import_token"])
			m["ParametersValidTo"] = epoch(x.data["parameters_valid_to"])
			return m
		}},
	"ImportKeyMaterial": {route: "keys/:key/import", op: logical.UpdateOperation,
		members: with(mKey, "ImportToken", "EncryptedKeyMaterial", "ExpirationModel", "ValidTo",
			"ImportType", "KeyMaterialId", "KeyMaterialDescription"),
		out: keyShape("KeyMaterialId", "key_material_id")},
	"DeleteImportedKeyMaterial": {route: "keys/:key/import", op: logical.DeleteOperation, members: with(mKey, "KeyMaterialId"),
		out: keyShape("KeyMaterialId", "key_material_id")},
	"GetKeyLastUsage": {route: "keys/:key/last-usage", op: logical.ReadOperation, members: mKey,
		out: func(x awsOut) map[string]any {
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
}

var (
	mDataKey     = with(mCrypto, "EncryptionContext", "NumberOfBytes", "KeySpec")
	mDataKeyPair = with(mCrypto, "EncryptionContext", "KeyPairSpec")
)

// awsUnsupported are AWS KMS operations the plugin does not implement:
// custom key stores and multi-Region keys have no counterpart (Vault's
// seals and replication play those parts).
var awsUnsupported = map[string]bool{
	"ConnectCustomKeyStore": true, "CreateCustomKeyStore": true, "DeleteCustomKeyStore": true,
	"DescribeCustomKeyStores": true, "DisconnectCustomKeyStore": true, "UpdateCustomKeyStore": true,
	"ReplicateKey": true, "UpdatePrimaryRegion": true,
}
