package kms

import (
	"regexp"
	"strconv"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Identifiers that reach storage paths are checked here, before any
// storage call: Vault's storage refuses some of them (a ".." segment is
// logical.ErrRelativePath, invalid UTF-8 and control characters are refused
// by the physical layer), and a refusal from storage is no answer for a
// client. Every id this plugin issues has a fixed shape, so anything else
// names nothing and is answered as AWS answers it.

// keyIDPattern is the shape of the key ids CreateKey issues (go-uuid).
var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// grantIDPattern is the shape of the grant ids CreateGrant issues: 32
// random bytes in hex, as long as AWS's.
var grantIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkKeyRef checks the key id or alias name a key reference resolved to
// (exactly one is set). A key id that is not one of ours is not found, as
// AWS answers "Invalid keyId"; so is an alias name no alias can have.
func checkKeyRef(id, alias string) error {
	if alias != "" {
		if len(alias) > keyspec.MaxAliasName || !aliasPattern.MatchString(alias) {
			return kmserr.NotFoundf("alias %s does not exist: not a valid alias name", quoteID(alias))
		}
		return nil
	}
	if !keyIDPattern.MatchString(id) {
		return kmserr.NotFoundf("invalid key id %s: key ids are UUIDs", quoteID(id))
	}
	return nil
}

// checkGrantID refuses a grant id no grant can have, as AWS does.
func checkGrantID(id string) error {
	if !grantIDPattern.MatchString(id) {
		return kmserr.New(kmserr.InvalidGrantID, "invalid grant id %s: grant ids are 64 hex digits", quoteID(id))
	}
	return nil
}

// quoteID quotes an id for an error message, escaping what is not
// printable and cutting what is too long to be any id.
func quoteID(id string) string {
	const max = 300
	if len(id) > max {
		return strconv.QuoteToASCII(id[:max]) + "..."
	}
	return strconv.QuoteToASCII(id)
}
