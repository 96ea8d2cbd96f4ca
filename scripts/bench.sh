#!/usr/bin/env bash
# make bench: a dev-mode Vault of its own (127.0.0.1:8210 unless
# VAULT_BENCH_ADDR is set; Vault also takes the next port for its cluster
# listener, and the plugin's pprof listener is on 8219) with the KMS plugin at kms/, Transit at transit/
# and the floor plugin (cmd/floor-plugin, one echo path) at floor/, driven by
# cmd/kms-bench. `scripts/bench.sh suite` writes the table into
# BENCHMARKS.md, `memory` the plugin's heap and RSS after large batches,
# `all` (the default) both; `serve` keeps the set-up running for profiling
# (pprof of the plugin on the pprof address, of Vault on sys/pprof) until
# interrupted. Extra arguments go to `kms-bench suite`;
# BENCH_MEMORY_ARGS to `kms-bench memory`. Vault stops
# when the script ends; its log is in bin/bench/vault.log (ignored by git).
# The suite's SoftHSM2 row needs softhsm2 (scripts/deps.sh installs it):
# a token in a temporary directory under bin/bench, removed at the end, and
# the HSM connection cluster-kmsbenchsofthsm to it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode="${1:-all}"; shift || true
# Checked first, before scripts/vault.sh may spend minutes building Vault.
. "$root/scripts/softhsm.sh"
hsm_module=$(softhsm_module) || {
  echo "make bench needs SoftHSM2 (libsofthsm2.so and softhsm2-util) for its 'encrypt 1 KiB (SoftHSM2 key)' row:" \
    "run scripts/deps.sh (or apt-get install softhsm2), or set SOFTHSM2_MODULE to the library" >&2
  exit 1
}
vault_bin=$("$root/scripts/vault.sh")
plugin_dir="$root/bin/plugins"
version="${PLUGIN_VERSION:?}"
addr="${VAULT_BENCH_ADDR:-127.0.0.1:8210}"
pprof_addr="${VAULT_BENCH_PPROF_ADDR:-127.0.0.1:8219}"
state="$root/bin/bench"
mkdir -p "$state"
for bin in vault-plugin-kms floor-plugin; do
  [ -x "$plugin_dir/$bin" ] || { echo "missing $plugin_dir/$bin: run make bench" >&2; exit 1; }
done

# The SoftHSM2 token, before Vault starts: Vault passes SOFTHSM2_CONF on to
# the plugin process it starts. Random PINs, as the token lives for one run.
hsm_dir=$(mktemp -d "$state/softhsm.XXXXXX")
vault_pid=""
cleanup() {
  if [ -n "$vault_pid" ]; then kill "$vault_pid" 2>/dev/null || true; wait "$vault_pid" 2>/dev/null || true; fi
  rm -rf "$hsm_dir"
}
trap cleanup EXIT
hsm_conn=cluster-kmsbenchsofthsm hsm_label=kms-bench
hsm_pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
softhsm_token "$hsm_dir" "$hsm_label" "$hsm_pin" "$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"

cat > "$state/vault.hcl" <<HCL
plugin_directory = "$plugin_dir"
HCL
# The plugin inherits this environment: info-level logging and the opt-in
# pprof listener the memory figures read.
VAULT_KMS_PPROF_ADDR="$pprof_addr" VAULT_KMS_LOG_LEVEL=info \
  "$vault_bin" server -dev -dev-root-token-id=root -dev-listen-address="$addr" \
  -config="$state/vault.hcl" -log-level=warn >"$state/vault.log" 2>&1 &
vault_pid=$!

export VAULT_ADDR="http://$addr" VAULT_TOKEN=root
for _ in $(seq 1 150); do
  "$vault_bin" status >/dev/null 2>&1 && break
  sleep 0.2
done
"$vault_bin" status >/dev/null || { echo "Vault did not start; see $state/vault.log" >&2; exit 1; }

sha() { sha256sum "$plugin_dir/$1" | cut -d' ' -f1; }
"$vault_bin" plugin register -sha256="$(sha vault-plugin-kms)" -version="$version" secret vault-plugin-kms >/dev/null
"$vault_bin" plugin register -sha256="$(sha floor-plugin)" secret floor-plugin >/dev/null
"$vault_bin" secrets enable -path=kms -plugin-version="$version" \
  -passthrough-request-headers=X-Amz-Target vault-plugin-kms >/dev/null
"$vault_bin" secrets enable -path=floor floor-plugin >/dev/null
"$vault_bin" secrets enable -path=transit transit >/dev/null
# The operator's part of a custom key store (sudo); kms-bench creates the
# store, connects it and makes the key. The PIN goes through stdin.
printf %s "$hsm_pin" | "$vault_bin" write "kms/config/hsm/$hsm_conn" module_path="$hsm_module" \
  token_label="$hsm_label" pin=- >/dev/null

bench="$root/bin/kms-bench"
if [ "$mode" = suite ] || [ "$mode" = all ]; then
  KMS_BENCH_HSM_PIN="$hsm_pin" "$bench" suite -hsm "$hsm_conn" -update "$root/BENCHMARKS.md" "$@"
fi
if [ "$mode" = memory ] || [ "$mode" = all ]; then
  # The plugin process Vault started from our plugin directory.
  pid=$(pgrep -f "^$plugin_dir/vault-plugin-kms" | head -1)
  [ -n "$pid" ] || { echo "plugin process not found" >&2; exit 1; }
  # shellcheck disable=SC2086
  "$bench" memory -pid "$pid" -pprof "$pprof_addr" -update "$root/BENCHMARKS.md" ${BENCH_MEMORY_ARGS:-}
fi
if [ "$mode" = serve ]; then
  echo "VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=root; plugin pprof: http://$pprof_addr/debug/pprof/ (Ctrl-C stops)"
  echo "HSM connection $hsm_conn (SoftHSM2 token in $hsm_dir): KMS_BENCH_HSM_PIN=$hsm_pin $bench suite -hsm $hsm_conn"
  wait $vault_pid
fi
