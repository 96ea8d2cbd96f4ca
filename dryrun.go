package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
)

// DryRun and key-usage notes live in internal/awsapi (the protocol's
// DryRun); these are the names the handlers call, and the wrappers that
// give a handler the dry_run and dry_run_modifiers fields' meaning.

// dryRun runs fn, in a dry-run context if the request asks for one. A
// refusal is the real call's refusal; success is DryRunOperationException.
func dryRun(ctx context.Context, d *framework.FieldData, fn func(context.Context) error) error {
	var mods []string
	if v, ok := d.GetOk("dry_run_modifiers"); ok {
		mods = v.([]string)
	}
	v, ok := d.GetOk("dry_run")
	on := ok && v.(bool)
	return awsapi.DryRun(ctx, on, mods, fn)
}

// dryRunnable gives a handler the dry_run field's meaning.
func dryRunnable(h framework.OperationFunc) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		var resp *logical.Response
		err := dryRun(ctx, d, func(ctx context.Context) (err error) {
			resp, err = h(ctx, req, d)
			return err
		})
		return resp, err
	}
}

// dryRunItem is dryRunnable for one item of a batchable operation.
func dryRunItem(fn itemFunc) itemFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
		var out map[string]any
		err := dryRun(ctx, d, func(ctx context.Context) (err error) {
			out, err = fn(ctx, req, d)
			return err
		})
		return out, err
	}
}
