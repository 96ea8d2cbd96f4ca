package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Key usage counts only a request that succeeded, as AWS's last usage is
// the last successful cryptographic operation: admit notes the use in the
// request's usageNotes, and dryRun records the notes once the handler has
// succeeded for real.

type usageNotesKey struct{}

// usageNotes are the key uses a request was admitted for.
type usageNotes struct{ record []func() }

// noteUse records use now, or, inside dryRun, once the request succeeds.
func noteUse(ctx context.Context, use func()) {
	if n, ok := ctx.Value(usageNotesKey{}).(*usageNotes); ok {
		n.record = append(n.record, use)
		return
	}
	use()
}

// DryRun, as AWS KMS has it: the request is checked exactly as the real
// one (authorization, key state, key usage, input), but nothing is written
// and nothing counts as key usage; success answers DryRunOperationException.
// The handlers run unchanged in a dry-run context: dryRunnable turns their
// success into the exception, admit does not record usage, and a handler
// that writes calls dryRunStop right before the write.

type dryRunKey struct{}

// dryRunMode is what a dry run skips.
type dryRunMode struct {
	ignoreCiphertext bool // DryRunModifiers IGNORE_CIPHERTEXT: check access, not the ciphertext
}

// ignoreCiphertext is AWS's DryRunModifiers value for Decrypt and ReEncrypt.
const ignoreCiphertext = "IGNORE_CIPHERTEXT"

func isDryRun(ctx context.Context) bool {
	_, ok := ctx.Value(dryRunKey{}).(dryRunMode)
	return ok
}

// ignoresCiphertext reports a dry run that checks access to the key named
// in the request without opening the ciphertext.
func ignoresCiphertext(ctx context.Context) bool {
	m, _ := ctx.Value(dryRunKey{}).(dryRunMode)
	return m.ignoreCiphertext
}

func errDryRun() error {
	return kmserr.New(kmserr.DryRunOperation, "The request would have succeeded, but the DryRun option is set.")
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
	var mode dryRunMode
	mods, hasMods := d.GetOk("dry_run_modifiers")
	if hasMods {
		for _, m := range mods.([]string) {
			if m != ignoreCiphertext {
				return kmserr.Validationf("dry_run_modifiers: the one dry run modifier is %s", ignoreCiphertext)
			}
			mode.ignoreCiphertext = true
		}
	}
	v, ok := d.GetOk("dry_run")
	if !ok || !v.(bool) {
		if hasMods && len(mods.([]string)) > 0 {
			return kmserr.Validationf("dry_run_modifiers applies only with dry_run")
		}
		notes := &usageNotes{}
		if err := fn(context.WithValue(ctx, usageNotesKey{}, notes)); err != nil {
			return err
		}
		for _, use := range notes.record {
			use()
		}
		return nil
	}
	if err := fn(context.WithValue(ctx, dryRunKey{}, mode)); err != nil {
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
