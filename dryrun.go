package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// DryRun, as AWS KMS has it: the request is checked exactly as the real
// one (authorization, key state, key usage, input), but nothing is written
// and nothing counts as key usage; success answers DryRunOperationException.
// The handlers run unchanged in a dry-run context: dryRunnable turns their
// success into the exception, admit does not record usage, and a handler
// that writes calls dryRunStop right before the write.

type dryRunKey struct{}

func isDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}

func errDryRun() error {
	return newErr(excDryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}

// dryRunStop ends a dry run right before a handler writes: the error is
// the dry run's success.
func dryRunStop(ctx context.Context) error {
	if isDryRun(ctx) {
		return errDryRun()
	}
	return nil
}

// dryRun runs fn, in a dry-run context if the request asks for one. A
// refusal is the real call's refusal; success is DryRunOperationException.
func dryRun(ctx context.Context, d *framework.FieldData, fn func(context.Context) error) error {
	v, ok := d.GetOk("dry_run")
	if !ok || !v.(bool) {
		return fn(ctx)
	}
	if err := fn(context.WithValue(ctx, dryRunKey{}, true)); err != nil {
		return err
	}
	return errDryRun()
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
