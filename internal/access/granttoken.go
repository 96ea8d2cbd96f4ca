package access

import (
	"crypto/hmac"
	"encoding/base64"
	"strings"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Grant tokens are "v1.<key id>.<grant id>.<mac>", base64url, where mac
// is the mount's MAC for grant tokens over the key and grant ids (mac
// below, bound by the caller to the mount's token key and the grant-token
// purpose): a forged or altered token fails without a storage lookup.

// GrantToken is grant g's token.
func GrantToken(g *Grant, mac func(fields ...string) string) string {
	raw := "v1." + g.KeyID + "." + g.GrantID + "." + mac(g.KeyID, g.GrantID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseGrantToken checks a token's MAC and returns the key and grant ids.
// mac is asked only of a well-formed token (it may read the token key).
func ParseGrantToken(token string, mac func(fields ...string) (string, error)) (string, string, error) {
	invalid := kmserr.New(kmserr.InvalidGrantToken, "the grant token is not valid")
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", invalid
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", "", invalid
	}
	want, err := mac(parts[1], parts[2])
	if err != nil {
		return "", "", err
	}
	if !hmac.Equal([]byte(parts[3]), []byte(want)) {
		return "", "", invalid
	}
	return parts[1], parts[2], nil
}
