package keystore

import (
	"context"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// ARNScheme is the mount's ARN prefix, arn:<partition>:kms:<region>:<account>:
// (configured on the config path).
type ARNScheme string

// Key is the ARN of a key.
func (a ARNScheme) Key(id string) string { return string(a) + "key/" + id }

// Alias is the ARN of an alias.
func (a ARNScheme) Alias(name string) string { return string(a) + name }

// Resolve turns a key reference (key id, key ARN, alias name or alias
// ARN) into the key. allowAlias is false for the operations AWS refuses on
// aliases (EnableKey, TagResource, ...). arns is the mount's ARN scheme,
// which key and alias ARNs must be of.
func (st *Store) Resolve(ctx context.Context, s logical.Storage, arns ARNScheme, ref string, allowAlias bool) (*Key, error) {
	if ref == "" {
		return nil, kmserr.Validationf("a key id is required")
	}
	if err := CheckRefSpacing(ref); err != nil {
		return nil, err
	}
	id, alias, err := arns.Parse(ref)
	if err == nil {
		err = CheckKeyRef(id, alias)
	}
	if err != nil {
		return nil, err
	}
	if alias != "" {
		if !allowAlias {
			return nil, kmserr.Validationf("this operation does not accept an alias (%s); use the key id or key ARN", alias)
		}
		a, err := st.GetAlias(ctx, s, alias)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, kmserr.NotFoundf("alias %s does not exist", alias)
		}
		id = a.TargetKeyID
	}
	e, err := st.Get(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if e == nil || st.IsDeleted(e) {
		return nil, kmserr.NotFoundf("key '%s' does not exist", id)
	}
	return e, nil
}

// Parse splits a reference into a key id or an alias name. An ARN of
// another partition, region or account names no key of this mount.
func (a ARNScheme) Parse(ref string) (id, alias string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		// arn:<partition>:kms:<region>:<account>:<resource>
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN %q", ref)
		}
		if !strings.HasPrefix(ref, string(a)) {
			return "", "", kmserr.New(kmserr.NotFound, "ARN %q is not of this mount, whose ARNs start with %s", ref, a)
		}
		ref = parts[5]
		switch {
		case strings.HasPrefix(ref, "key/"):
			return strings.TrimPrefix(ref, "key/"), "", nil
		case strings.HasPrefix(ref, "alias/"):
			return "", ref, nil
		}
		return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN resource %q", ref)
	}
	if strings.HasPrefix(ref, "alias/") {
		return "", ref, nil
	}
	return ref, "", nil
}
