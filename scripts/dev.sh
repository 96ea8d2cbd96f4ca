#!/usr/bin/env bash
# make dev: a dev-mode Vault on 127.0.0.1:8200 (VAULT_DEV_ADDR sets another
# address) with the plugin registered by sha256 and mounted at kms/. Vault
# runs in the background; `make dev-stop` stops it. State lives in ./dev
# (ignored by git); KMS_DEV_DIR and KMS_PLUGIN_DIR move the state and the
# plugin directory (integration/devscripts_test.go runs this script so).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vault_bin=$("$root/scripts/vault.sh")
plugin_dir="${KMS_PLUGIN_DIR:-$root/bin/plugins}"
version="${PLUGIN_VERSION:?}"
addr="${VAULT_DEV_ADDR:-127.0.0.1:8200}"
token="${VAULT_DEV_TOKEN:-root}"
state="${KMS_DEV_DIR:-$root/dev}"
mkdir -p "$state"

if [ -f "$state/vault.pid" ] && kill -0 "$(cat "$state/vault.pid")" 2>/dev/null; then
  echo "stopping the previous dev Vault (pid $(cat "$state/vault.pid"))"
  kill "$(cat "$state/vault.pid")"; sleep 1
fi
# A SoftHSM2 token for custom key stores (docs/API.md), new with every dev
# Vault (whose storage is in memory too), when softhsm2 is installed
# (scripts/deps.sh installs it). The plugin finds the token through
# SOFTHSM2_CONF, given to its registration below.
. "$root/scripts/softhsm.sh"
hsm_conn=cluster-softhsmdevtoken hsm_label=kms-dev hsm_pin=kms-dev-pin
if hsm_module=$(softhsm_module); then
  softhsm_token "$state/softhsm" "$hsm_label" "$hsm_pin" kms-dev-so-pin
else
  hsm_module=""
  echo "softhsm2 is not installed: no HSM connection for custom key stores (scripts/deps.sh installs it)" >&2
fi

cat > "$state/vault.hcl" <<HCL
plugin_directory = "$plugin_dir"
HCL
nohup "$vault_bin" server -dev -dev-root-token-id="$token" -dev-listen-address="$addr" \
  -config="$state/vault.hcl" >"$state/vault.log" 2>&1 &
echo $! >"$state/vault.pid"

export VAULT_ADDR="http://$addr" VAULT_TOKEN="$token"
for _ in $(seq 1 100); do
  "$vault_bin" status >/dev/null 2>&1 && break
  sleep 0.2
done
"$vault_bin" status >/dev/null || { echo "Vault did not start; see $state/vault.log" >&2; exit 1; }

sha=$(sha256sum "$plugin_dir/vault-plugin-kms" | cut -d' ' -f1)
plugin_env=()
[ -z "$hsm_module" ] || plugin_env=(-env="SOFTHSM2_CONF=$SOFTHSM2_CONF")
"$vault_bin" plugin register -sha256="$sha" -version="$version" "${plugin_env[@]}" secret vault-plugin-kms >/dev/null
# AWS clients: X-Amz-Target names the operation, x-amzn-RequestId carries
# Vault's request id back, and ".../kms/aws/" (the AWS SDKs for Go v1 and
# JavaScript v3 add the slash) is served like ".../kms/aws".
"$vault_bin" secrets enable -path=kms -plugin-version="$version" \
  -passthrough-request-headers=X-Amz-Target -allowed-response-headers=X-Kms-Audit \
  -allowed-response-headers=x-amzn-RequestId -trim-request-trailing-slashes=true vault-plugin-kms >/dev/null

# The audit trail (docs/AUDIT.md): the plugin's audit event (the
# X-Kms-Audit response header, allowed above), the fields of
# audit/non-hmac-keys.txt in clear, the AWS operation header, and a file
# audit device.
keys=$(grep -v '^[[:space:]]*\(#\|$\)' "$root/audit/non-hmac-keys.txt" | paste -sd, -)
"$vault_bin" write sys/mounts/kms/tune audit_non_hmac_request_keys="$keys" audit_non_hmac_response_keys="$keys" >/dev/null
"$vault_bin" write sys/config/auditing/request-headers/X-Amz-Target hmac=false >/dev/null
audit_log="$state/audit.log"
"$vault_bin" audit enable file file_path="$audit_log" >/dev/null

# The operator's part of a custom key store: an HSM connection to the token.
hsm_help=""
if [ -n "$hsm_module" ]; then
  "$vault_bin" write "kms/config/hsm/$hsm_conn" module_path="$hsm_module" token_label="$hsm_label" \
    pin="$hsm_pin" >/dev/null
  hsm_help="Custom key stores (docs/API.md): HSM connection $hsm_conn, to a SoftHSM2 token in
$state/softhsm whose crypto user's PIN is $hsm_pin:
  id=\$(vault write -field=custom_key_store_id kms/custom-key-stores custom_key_store_name=dev \\
    cloud_hsm_cluster_id=$hsm_conn key_store_password=$hsm_pin)
  vault write -f kms/custom-key-stores/\$id/connect
  vault read kms/custom-key-stores/\$id

"
fi

cat <<TXT
Vault $("$vault_bin" version | awk '{print $2}' | tr -d ,) is running in dev mode with vault-plugin-kms $version mounted at kms/.

  export VAULT_ADDR=$VAULT_ADDR
  export VAULT_TOKEN=$token
  export PATH="$(dirname "$vault_bin"):\$PATH"

Try:
  vault write kms/keys description="my first key" alias=alias/demo
  vault write kms/encrypt/alias/demo plaintext=\$(echo -n hello | base64)
  vault list kms/keys

AWS SDKs: endpoint $VAULT_ADDR/v1/kms/aws with header X-Vault-Token: $token (docs/AWS.md);
  VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=$token go run ./examples/aws-sdk-go

${hsm_help}Audit log: $audit_log
  jq -c -f audit/cloudtrail.jq $audit_log    # CloudTrail-like events (docs/AUDIT.md)

Logs: $state/vault.log    Stop: make dev-stop
TXT
