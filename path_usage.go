package kms

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// pathLastUsage is keys/<key>/last-usage (AWS's GetKeyLastUsage); it is
// registered before the bare keys/<key> path.
func pathLastUsage(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      "keys/" + keyIDRef + "/last-usage$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "last-usage"},
		Fields:       withKey(nil),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathLastUsageRead,
				Summary:      "When and for which operation the key was last used (GetKeyLastUsage).",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
		},
		HelpSynopsis:    "Read a key's last cryptographic use (GetKeyLastUsage).",
		HelpDescription: pathLastUsageHelp,
	}
}

func (b *backend) pathLastUsageRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpGetKeyLastUsage, nil, nil); err != nil {
		return nil, err
	}
	created := e.CreationDate.Format(time.RFC3339)
	// Tracking starts with the key: every version of the plugin records it.
	data := map[string]any{"key_id": e.KeyID, "key_creation_date": created, "tracking_start_date": created}
	u, err := b.keys.LastUse(ctx, req.Storage, e.KeyID)
	if err != nil {
		return nil, err
	}
	if u != nil {
		data["last_used_date"] = u.At.Format(time.RFC3339)
		data["last_used_operation"] = usedOperationName(u.Operation)
		if u.RequestID != "" {
			data["kms_request_id"] = u.RequestID
		}
	}
	return &logical.Response{Data: data}, nil
}

const pathLastUsageHelp = `
Returns when the key was last used for a cryptographic operation and which
one (last_used_date, last_used_operation; absent if never), with the key's
creation date, from which tracking starts. The time is exact on the node
that served the request and stored at most once a minute per key, so
another node may see it up to a minute late. Describe (keys/<key>) shows the
same two fields.
`
