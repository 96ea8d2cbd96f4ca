package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// How paths name keys: management paths take the key id only (keyIDRef),
// so Vault ACL rules written per key cover every way to reach them.

// notAnActionPath refuses, on describe, a key ARN with more path after the
// key id: keys/arn:...:key/<id>/policy reaches describe because management
// paths take the key id only, and must fail as such, not as an unknown key.
func (b *backend) notAnActionPath(ctx context.Context, s logical.Storage, ref string) error {
	arns, err := b.arns(ctx, s)
	if err != nil {
		return err
	}
	// Only an ARN: any other id with "/" is no key id at all (NotFound).
	if id, alias, err := arns.Parse(ref); err == nil && alias == "" && strings.HasPrefix(ref, "arn:") && strings.Contains(id, "/") {
		return errIDOnly()
	}
	return nil
}

// readActions are the keys/<key>/<action> paths that can be read: a read
// of one with an alias or ARN lands on describe.
var readActions = map[string]bool{"policy": true, "tags": true, "rotation": true, "last-usage": true}

func endsInAction(ref string) bool {
	i := strings.LastIndex(ref, "/")
	return i >= 0 && readActions[ref[i+1:]]
}

func isNotFound(err error) bool {
	var ke *kmserr.Error
	return errors.As(err, &ke) && ke.Type == kmserr.NotFound
}

func errIDOnly() error {
	return kmserr.Validationf("keys/<key>/... management paths, and updating keys/<key>, take the key id only, " +
		"not a key ARN or an alias: Vault ACL rules such as kms/keys/+/policy must match them")
}

// refuseInvalid answers a request whose input failed a check made before
// the key was authorized: a check of input that feeds the authorization
// (grant tokens, the encryption context, a grant's parameters) or that is
// cheap to make first. A caller the key's policy and grants do not admit
// for op gets AccessDeniedException, exactly as for a valid request, so
// nobody learns what a key accepts (formats, limits, which names exist)
// without the permission to use it; an admitted caller gets bad. The
// authorization runs without the request's encryption context and grant
// tokens (they may be what is invalid), so a statement conditioned on them
// does not admit here. With no key reference (decrypt of a blob whose key
// is unknown) there is no key to ask: bad as is.
func (b *backend) refuseInvalid(ctx context.Context, req *logical.Request, ref string, allowAlias bool, op string, bad error) error {
	if ref == "" {
		return bad
	}
	e, err := b.resolveKey(ctx, req.Storage, ref, allowAlias)
	if err != nil {
		return err
	}
	if err := b.authorize(ctx, req, e, op, nil, nil); err != nil {
		return err
	}
	return bad
}
