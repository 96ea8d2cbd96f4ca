# Sourced by scripts/dev.sh and scripts/bench.sh: a SoftHSM2 token of their
# own for custom key stores (docs/HSM.md). The plugin finds the token
# through SOFTHSM2_CONF, which SoftHSM2 reads when the plugin loads the
# library, so the caller exports it before Vault starts the plugin (or
# gives it to the plugin's registration).

# softhsm_module prints the path of SoftHSM2's PKCS#11 library
# (SOFTHSM2_MODULE, else where distributions put it; the same list as
# internal/hsm/hsmtest) and fails when the library or softhsm2-util is
# missing (scripts/deps.sh installs both).
softhsm_module() {
  command -v softhsm2-util >/dev/null 2>&1 || return 1
  local m
  for m in ${SOFTHSM2_MODULE:-} /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
    /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so; do
    [ -f "$m" ] && { echo "$m"; return 0; }
  done
  return 1
}

# softhsm_token DIR LABEL PIN SO_PIN: a new token directory and
# configuration in DIR (emptied first), SOFTHSM2_CONF exported, and a token
# initialised with those PINs. The PINs stay out of the output.
softhsm_token() {
  local dir=$1 label=$2 pin=$3 so_pin=$4
  rm -rf "$dir"; mkdir -p "$dir/tokens"
  export SOFTHSM2_CONF="$dir/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$dir/tokens" >"$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >/dev/null
}
