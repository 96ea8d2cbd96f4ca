package keystore

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Identifiers that reach storage paths are checked here, before any
// storage call: Vault's storage refuses some of them (a ".." segment is
// logical.ErrRelativePath, invalid UTF-8 and control characters are refused
// by the physical layer), and a refusal from storage is no answer for a
// client. Every id this plugin issues has a fixed shape, so anything else
// names nothing and is answered as AWS answers it.

// KeyIDPattern is the shape of the key ids CreateKey issues (go-uuid).
var KeyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// AliasPattern is the shape AWS allows alias names.
var AliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)

// grantIDPattern is the shape of the grant ids CreateGrant issues: 32
// random bytes in hex, as long as AWS's.
var grantIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CheckKeyRef checks the key id or alias name a key reference resolved to
// (exactly one is set). A key id that is not one of ours is not found, as
// AWS answers "Invalid keyId"; so is an alias name no alias can have.
func CheckKeyRef(id, alias string) error {
	if alias != "" {
		if len(alias) > keyspec.MaxAliasName || !AliasPattern.MatchString(alias) {
			return kmserr.NotFoundf("alias %s does not exist: not a valid alias name", QuoteID(alias))
		}
		return nil
	}
	if !KeyIDPattern.MatchString(id) {
		return kmserr.NotFoundf("invalid key id %s: key ids are UUIDs", QuoteID(id))
	}
	return nil
}

// CheckGrantID refuses a grant id no grant can have, as AWS does.
func CheckGrantID(id string) error {
	if !grantIDPattern.MatchString(id) {
		return kmserr.New(kmserr.InvalidGrantID, "invalid grant id %s: grant ids are 64 hex digits", QuoteID(id))
	}
	return nil
}

// QuoteID quotes an id for an error message, escaping what is not
// printable and cutting what is too long to be any id.
func QuoteID(id string) string {
	const max = 300
	if len(id) > max {
		return strconv.QuoteToASCII(id[:max]) + "..."
	}
	return strconv.QuoteToASCII(id)
}

// CheckRefSpacing refuses a key reference with white space around it. A
// reference is taken exactly as written, never trimmed: Vault ACL rules
// match the exact path, so kms/keys/<id>%20/policy would otherwise reach
// the key a rule on kms/keys/<id>/policy denies.
func CheckRefSpacing(ref string) error {
	if ref != strings.TrimSpace(ref) {
		return kmserr.NotFoundf("no key or alias is named with leading or trailing white space")
	}
	return nil
}
