#!/usr/bin/env bash
# make proxy: Vault Proxy in front of Vault (the `make dev` one by default),
# adding a Vault token to every request, so that unmodified AWS tools work:
#
#   export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8100/v1/kms/aws
#   aws kms list-keys
#
# The token is VAULT_TOKEN (default root), handed to the proxy's token_file
# auto-auth; api_proxy's use_auto_auth_token = "force" adds it even though
# AWS tools send no X-Vault-Token. State lives in ./dev (ignored by git);
# `make proxy-stop` stops it. KMS_DEV_DIR moves the state, as for dev.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vault_bin=$("$root/scripts/vault.sh")
vault_addr="${VAULT_ADDR:-http://127.0.0.1:8200}"
listen="${PROXY_ADDR:-127.0.0.1:8100}"
state="${KMS_DEV_DIR:-$root/dev}"
mkdir -p "$state"

if [ -f "$state/proxy.pid" ] && kill -0 "$(cat "$state/proxy.pid")" 2>/dev/null; then
  echo "stopping the previous Vault Proxy (pid $(cat "$state/proxy.pid"))"
  kill "$(cat "$state/proxy.pid")"; sleep 1
fi
umask 077
printf '%s' "${VAULT_TOKEN:-root}" >"$state/proxy-token"
cat >"$state/proxy.hcl" <<HCL
vault {
  address = "$vault_addr"
}
auto_auth {
  method "token_file" {
    config = {
      token_file_path = "$state/proxy-token"
    }
  }
}
api_proxy {
  use_auto_auth_token = "force"
}
listener "tcp" {
  address     = "$listen"
  tls_disable = true
}
HCL
nohup "$vault_bin" proxy -config="$state/proxy.hcl" >"$state/proxy.log" 2>&1 &
echo $! >"$state/proxy.pid"

# Ready when the listener answers and auto-auth holds the token. Not a read
# through the proxy: a client's token (docs/CLIENTS.md) may be allowed
# nothing but kms/aws.
ready() {
  VAULT_ADDR="http://$listen" "$vault_bin" status >/dev/null 2>&1 &&
    grep -q 'authentication successful' "$state/proxy.log"
}
for _ in $(seq 1 100); do
  ready && break
  grep -q 'error authenticating' "$state/proxy.log" && break # a bad token
  sleep 0.2
done
if ! ready; then
  echo "Vault Proxy did not come up; see $state/proxy.log" >&2
  kill "$(cat "$state/proxy.pid")" 2>/dev/null || true
  rm -f "$state/proxy.pid"
  exit 1
fi

cat <<TXT
Vault Proxy listens on http://$listen and adds the token to every request to $vault_addr.

  export AWS_ENDPOINT_URL_KMS=http://$listen/v1/kms/aws
  export AWS_ACCESS_KEY_ID=unused AWS_SECRET_ACCESS_KEY=unused AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  aws kms create-key --description demo

Recipes for other clients (SOPS, cosign, Vault's awskms seal, ...): docs/CLIENTS.md

Logs: $state/proxy.log    Stop: make proxy-stop
TXT
