package kms

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathAliases(b *backend) []*framework.Path {
	target := &framework.FieldSchema{Type: framework.TypeString,
		Description: "Key id or key ARN the alias points to (not another alias)."}
	return []*framework.Path{
		{
			Pattern:      "aliases/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "aliases"},
			Fields: map[string]*framework.FieldSchema{
				"key_id": {Type: framework.TypeString, Query: true, Description: "List only the aliases of this key (key id or key ARN)."},
				"limit":  fieldLimit,
				"after":  fieldAfter,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathAliasList, Summary: "List aliases (ListAliases), paged.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list"}},
			},
			HelpSynopsis:    pathAliasesHelpSyn,
			HelpDescription: pathAliasesHelpDesc,
		},
		{
			Pattern:      "aliases/(?P<name>.+)$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "alias"},
			Fields: map[string]*framework.FieldSchema{
				"name": {Type: framework.TypeString, Required: true,
					Description: "The full alias name, alias/<name> (the prefix is required, as in AWS): [a-zA-Z0-9/_-], at most 256 characters."},
				"target_key_id": target,
			},
			ExistenceCheck: b.aliasExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.pathAliasRead, Summary: "Read an alias.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
				logical.CreateOperation: &framework.PathOperation{Callback: b.pathAliasCreate, Summary: "Create an alias (CreateAlias).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "create"}},
				// A write to an existing alias is CreateAlias on a taken name.
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathAliasCreate, Summary: "Create an alias (CreateAlias).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "create"}},
				logical.PatchOperation: &framework.PathOperation{Callback: b.pathAliasUpdate, Summary: "Point an alias at another key (UpdateAlias).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "update"}},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.pathAliasDelete, Summary: "Delete an alias (DeleteAlias).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "delete"}},
			},
			HelpSynopsis:    pathAliasesHelpSyn,
			HelpDescription: pathAliasesHelpDesc,
		},
	}
}

func (b *backend) aliasExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	name, err := pathAliasName(d)
	if err != nil {
		return false, nil // the operation's handler refuses the name
	}
	a, err := b.keys.LiveAlias(ctx, req.Storage, name)
	return a != nil, err
}

func (b *backend) pathAliasList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	var all []string
	var err error
	if ref := d.Get("key_id").(string); ref != "" {
		e, err := b.resolveKey(ctx, req.Storage, ref, false)
		if err != nil {
			return nil, err
		}
		all, err = b.keys.AliasesOf(ctx, req.Storage, e.KeyID)
		if err != nil {
			return nil, err
		}
	} else if all, err = keystore.AliasNames(ctx, req.Storage); err != nil {
		return nil, err
	}
	names, next, err := page(all, d)
	if err != nil {
		return nil, err
	}
	arns, err := b.arns(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	info := make(map[string]any, len(names))
	shown := make([]string, 0, len(names))
	for _, n := range names {
		a, err := b.keys.LiveAlias(ctx, req.Storage, n)
		if err != nil {
			return nil, err
		}
		if a != nil {
			info[n] = aliasData(arns, a)
			shown = append(shown, n)
		}
	}
	names = shown
	return listResponse(names, info, next), nil
}

func (b *backend) pathAliasRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, err := pathAliasName(d)
	if err != nil {
		return nil, err
	}
	a, err := b.keys.LiveAlias(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, kmserr.NotFoundf("alias %s does not exist", name)
	}
	return b.aliasResponse(ctx, req.Storage, a)
}

func (b *backend) pathAliasCreate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The target key first: a caller it does not allow CreateAlias learns
	// nothing about the name (its format, whether it is taken).
	e, err := b.aliasTarget(ctx, req, d, keyspec.OpCreateAlias)
	if err != nil {
		return nil, err
	}
	name := d.Get("name").(string)
	if err := validateAliasName(name); err != nil {
		return nil, err
	}
	b.aliasLock.Lock()
	defer b.aliasLock.Unlock()
	if err := b.keys.AliasFree(ctx, req.Storage, name); err != nil {
		return nil, err
	}
	if err := b.keys.AliasRoom(ctx, req.Storage, e.KeyID, name); err != nil {
		return nil, err
	}
	now := b.now().UTC()
	a := &keystore.Alias{Name: name, TargetKeyID: e.KeyID, CreatedAt: now, UpdatedAt: now}
	if err := b.keys.PutAlias(ctx, req.Storage, a, ""); err != nil {
		return nil, err
	}
	return b.aliasResponse(ctx, req.Storage, a)
}

func (b *backend) pathAliasUpdate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.aliasTarget(ctx, req, d, keyspec.OpUpdateAlias)
	if err != nil {
		return nil, err
	}
	name, err := pathAliasName(d)
	if err != nil {
		return nil, err
	}
	b.aliasLock.Lock()
	defer b.aliasLock.Unlock()
	cur, err := keystore.ReadAlias(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, kmserr.NotFoundf("alias %s does not exist", name)
	}
	old, err := b.keys.Get(ctx, req.Storage, cur.TargetKeyID)
	if err != nil {
		return nil, err
	}
	// As in AWS, repointing an alias needs UpdateAlias on the key it leaves
	// too: otherwise anyone could move another key's alias to their own
	// key and receive what its users encrypt under the alias.
	if old != nil {
		if err := b.authorize(ctx, req, old, keyspec.OpUpdateAlias, nil, nil); err != nil {
			return nil, err
		}
	}
	// AWS: the new key must be of the same type and usage as the old one,
	// so code using the alias keeps working.
	if old != nil && (old.Spec().Type() != e.Spec().Type() || old.KeyUsage != e.KeyUsage) {
		return nil, kmserr.Validationf("alias %s points to a %s %s key; the new key %s is a %s %s key",
			name, old.Spec().Type(), old.KeyUsage, e.KeyID, e.Spec().Type(), e.KeyUsage)
	}
	if err := b.keys.AliasRoom(ctx, req.Storage, e.KeyID, name); err != nil {
		return nil, err
	}
	a := &keystore.Alias{Name: name, TargetKeyID: e.KeyID, CreatedAt: cur.CreatedAt, UpdatedAt: b.now().UTC()}
	if err := b.keys.PutAlias(ctx, req.Storage, a, cur.TargetKeyID); err != nil {
		return nil, err
	}
	return b.aliasResponse(ctx, req.Storage, a)
}

func (b *backend) pathAliasDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, err := pathAliasName(d)
	if err != nil {
		return nil, err
	}
	b.aliasLock.Lock()
	defer b.aliasLock.Unlock()
	a, err := keystore.ReadAlias(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, kmserr.NotFoundf("alias %s does not exist", name)
	}
	// An alias whose key is gone has no policy left to ask.
	target, err := b.keys.Get(ctx, req.Storage, a.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if target != nil {
		if err := b.authorize(ctx, req, target, keyspec.OpDeleteAlias, nil, nil); err != nil {
			return nil, err
		}
	}
	return nil, b.keys.DeleteAlias(ctx, req.Storage, a)
}

// aliasTarget resolves target_key_id and checks that the key policy allows
// the caller op on it and that the key's state allows op.
func (b *backend) aliasTarget(ctx context.Context, req *logical.Request, d *framework.FieldData, op string) (*keystore.Key, error) {
	ref := d.Get("target_key_id").(string)
	if ref == "" {
		return nil, kmserr.Validationf("target_key_id is required")
	}
	e, err := b.resolveKey(ctx, req.Storage, ref, false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, op, nil, nil); err != nil {
		return nil, err
	}
	return e, keystore.CheckState(e, op)
}

func (b *backend) aliasResponse(ctx context.Context, s logical.Storage, a *keystore.Alias) (*logical.Response, error) {
	arns, err := b.arns(ctx, s)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: aliasData(arns, a)}, nil
}

func aliasData(arns keystore.ARNScheme, a *keystore.Alias) map[string]any {
	return map[string]any{
		"alias_name":        a.Name,
		"alias_arn":         arns.Alias(a.Name),
		"target_key_id":     a.TargetKeyID,
		"creation_date":     a.CreatedAt.Format(time.RFC3339),
		"last_updated_date": a.UpdatedAt.Format(time.RFC3339),
	}
}

// pathAliasName is the alias an aliases/<name> path names.
func pathAliasName(d *framework.FieldData) (string, error) {
	name := d.Get("name").(string)
	if err := keystore.CheckRefSpacing(name); err != nil {
		return "", err
	}
	if !strings.HasPrefix(name, "alias/") {
		return "", errAliasPrefix()
	}
	return name, nil
}

const pathAliasesHelpSyn = "Create, update, delete and list key aliases."

const pathAliasesHelpDesc = `
An alias is a friendly name (alias/<name>) for a key. Paths name it in full,
aliases/alias/<name> (a short form is refused, so Vault ACL rules on
kms/aliases/alias/... cover every alias path). Write it
with target_key_id to create one (AlreadyExistsException if the name is
taken); PATCH it (vault patch) with a new target_key_id to point it at
another key of the same type and usage; delete it to remove it. List aliases
to see all of them, or pass key_id to see the aliases of one key. Crypto
operations and describe accept alias/<name> wherever AWS accepts an alias.
`
