#!/usr/bin/env bash
# Installs the system tools the tests use and a fresh machine may lack.
set -euo pipefail
if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl (the interop tests verify our output with it)..." >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null
fi
