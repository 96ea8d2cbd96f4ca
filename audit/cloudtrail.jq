# Turns a Vault audit log (one JSON entry a line) into CloudTrail-like events
# for the KMS plugin's mount. docs/AUDIT.md explains each field.
#   jq -c -f audit/cloudtrail.jq /var/log/vault/audit.log
#   jq -c --arg mount kms-prod/ -f audit/cloudtrail.jq audit.log
# Only response entries: each holds its request, the caller and the result.
def mount: $ARGS.named.mount // "kms/";
def header($headers; $name):
  [($headers // {}) | to_entries[] | select(.key | ascii_downcase == $name) | .value[0]] | first;
# The operation of a Vault-style cryptographic path, for requests that never
# reached the plugin (refused by Vault's ACL): the plugin names the others.
def vaultEventName($path):
  if .request.operation != "update" then null else
  {"encrypt": "Encrypt", "decrypt": "Decrypt", "re-encrypt": "ReEncrypt", "sign": "Sign",
   "verify": "Verify", "generate-mac": "GenerateMac", "verify-mac": "VerifyMac",
   "random": "GenerateRandom", "derive-shared-secret": "DeriveSharedSecret",
   "data-key/plaintext": "GenerateDataKey", "data-key/wrapped": "GenerateDataKeyWithoutPlaintext",
   "data-key-pair/plaintext": "GenerateDataKeyPair",
   "data-key-pair/wrapped": "GenerateDataKeyPairWithoutPlaintext"}
  | (.[$path | split("/")[0:2] | join("/")] // .[$path | split("/")[0]])
  end;
# An encryption context as an object, also when the CLI sent "k=v,k2=v2".
def kv:
  if type == "string" then [split(",")[] | split("=") | {(.[0]): (.[1:] | join("="))}] | add
  elif type == "array" then [.[] | split("=") | {(.[0]): (.[1:] | join("="))}] | add
  else . end;
def errcode:
  if . == null or . == "" then null
  elif test("permission denied") then "AccessDeniedException"
  else (capture("(?<c>[A-Za-z]+Exception)") | .c) // .
  end;

select(.type == "response" and ((.request.path // "") | startswith(mount)))
# The plugin's event: the X-Kms-Audit response header (Vault-style paths;
# absent if the mount does not allow it), or the kms_audit field of the AWS
# endpoint's response (HMAC'd, "hmac-sha256:...", if the mount is not tuned).
| ((header(.response.headers; "x-kms-audit") // .response.data.kms_audit // "")
   | if startswith("{") then fromjson else {} end) as $a
| (.request.path | ltrimstr(mount)) as $path
| ($a.requestParameters // {}) as $req
| {
    eventTime: .time,
    eventSource: ("vault:" + mount),
    eventName: ($a.eventName
      // (header(.request.headers; "x-amz-target") | if . then ltrimstr("TrentService.") else null end)
      // (if $path | startswith("aws/") then $path | ltrimstr("aws/") else null end)
      // vaultEventName($path)),
    keyArn: $a.keyArn,
    keyId: ($req.KeyId // $req.key_id // .request.data.KeyId // .request.data.key_id
      // $a.responseElements.KeyId // $a.responseElements.key_id),
    encryptionContext: (($req.EncryptionContext // $req.encryption_context
      // .request.data.EncryptionContext // .request.data.encryption_context) | kv),
    requestParameters: $a.requestParameters,
    responseElements: $a.responseElements,
    userIdentity: {
      entityId: .auth.entity_id,
      displayName: .auth.display_name,
      metadata: .auth.metadata,
      policies: .auth.policies,
      tokenType: .auth.token_type
    },
    sourceIPAddress: .request.remote_address,
    requestID: .request.id,
    vaultPath: .request.path,
    vaultOperation: .request.operation,
    errorCode: ($a.errorCode // (.error | errcode)),
    errorMessage: ($a.errorMessage // .error)
  }
