#!/usr/bin/env bash
# Installs the system tools the tests use and a fresh machine may lack:
# openssl (interop tests verify our output with it), node/npm (the AWS SDK
# for JavaScript test), the AWS CLI (the Vault Proxy test) and jq (the
# audit trail's filter, docs/AUDIT.md), SoftHSM2 and OpenSC (the custom key
# store tests run against a real PKCS#11 token and inspect it with pkcs11-tool).
set -euo pipefail
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v aws >/dev/null 2>&1 || missing+=(awscli)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || missing+=(opensc)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} for the tests..." >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
