package kms

import (
	"context"
	"sort"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathTags(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "keys/" + keyIDRef + "/tags$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "tags"},
			Fields:       withKey(map[string]*framework.FieldSchema{"tags": fieldTags}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.pathTagsRead, Summary: "List a key's tags (ListResourceTags).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list", OperationSuffix: "resource-tags"}},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathTagsWrite, Summary: "Add or overwrite tags (TagResource).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "tag", OperationSuffix: "resource"}},
			},
			HelpSynopsis:    pathTagsHelpSyn,
			HelpDescription: pathTagsHelpDesc,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/untag$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "tags"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"tag_keys": {Type: framework.TypeCommaStringSlice, Required: true, Description: "Tag keys to remove."},
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathTagsDelete, Summary: "Remove tags (UntagResource).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "untag", OperationSuffix: "resource"}},
			},
			HelpSynopsis:    pathTagsHelpSyn,
			HelpDescription: pathTagsHelpDesc,
		},
	}
}

func (b *backend) pathTagsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpListResourceTags, nil, nil); err != nil {
		return nil, err
	}
	return tagsResponse(e), nil
}

func (b *backend) pathTagsWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	tags := d.Get("tags").(map[string]string)
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpTagResource, func(e *keystore.Key) error {
		if len(tags) == 0 {
			return kmserr.Validationf("tags is required")
		}
		if err := validateTags(tags, countNew(e.Tags, tags)+len(e.Tags)-len(tags)); err != nil {
			return err
		}
		for k, v := range tags {
			e.Tags[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tagsResponse(e), nil
}

func (b *backend) pathTagsDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys := d.Get("tag_keys").([]string)
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpUntagResource, func(e *keystore.Key) error {
		if len(keys) == 0 {
			return kmserr.Validationf("tag_keys is required")
		}
		for _, k := range keys {
			delete(e.Tags, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tagsResponse(e), nil
}

// countNew counts the tags of add that the key does not have yet.
func countNew(have, add map[string]string) int {
	n := 0
	for k := range add {
		if _, ok := have[k]; !ok {
			n++
		}
	}
	return n
}

func tagsResponse(e *keystore.Key) *logical.Response {
	keys := make([]string, 0, len(e.Tags))
	for k := range e.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make(map[string]any, len(e.Tags))
	for k, v := range e.Tags {
		tags[k] = v
	}
	return &logical.Response{Data: map[string]any{"key_id": e.KeyID, "tags": tags, "tag_keys": keys}}
}

const pathTagsHelpSyn = "Tag, untag and list the tags of a key."

const pathTagsHelpDesc = `
Read keys/<key>/tags to list the tags; write tags=key=value pairs to add or
overwrite tags; write keys/<key>/untag with tag_keys to remove them. TagKey is
1..128 characters, TagValue 0..256, at most 50 tags per key, and the aws:
prefix is reserved. These operations take the key id or key ARN, not an alias.
`
