#!/usr/bin/env bash
# Prints the path of the pinned Vault server binary, building it first if
# this machine has not built it yet. Vault is built from the Go module proxy
# (tools/vault/go.mod pins the version) because no release binary can be
# downloaded in our environments; the build takes ~12 minutes on 2 cores,
# so the binary is cached per version outside the repository.
set -euo pipefail
# A binary the caller already has (the integration tests run scripts/dev.sh
# with theirs) is used as it is.
if [ -n "${VAULT_BINARY:-}" ] && [ -x "$VAULT_BINARY" ]; then
  echo "$VAULT_BINARY"; exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -nE 's/^[[:space:]]*(require[[:space:]]+)?github.com\/hashicorp\/vault (v[^ ]+).*/\2/p' "$root/tools/vault/go.mod" | head -1)
cache="${VAULT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-kms}/vault-$version"
bin="$cache/vault"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  echo "building Vault $version from the Go module proxy into $cache (about 12 minutes, once per machine)..." >&2
  if ! (cd "$root/tools/vault" && go build -o "$bin.tmp" github.com/hashicorp/vault) >&2; then
    echo "ERROR: building Vault $version failed; integration tests and make dev need it" >&2
    exit 1
  fi
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
