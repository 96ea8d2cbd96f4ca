package awsapi

import (
	"context"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// DryRun, as AWS KMS has it: the request is checked exactly as the real
// one (authorization, key state, key usage, input), but nothing is written
// and nothing counts as key usage; success answers DryRunOperationException.
// The handlers run unchanged in a dry-run context: DryRun turns their
// success into the exception, key use is noted (NoteUse) rather than
// recorded, and a handler that writes calls DryRunStop right before the
// write.
//
// Key usage counts only a request that succeeded, as AWS's last usage is
// the last successful cryptographic operation: outside a dry run, NoteUse
// keeps the use in the request's notes, and DryRun records the notes once
// the handler has succeeded for real.

type usageNotesKey struct{}

// usageNotes are the key uses a request was admitted for.
type usageNotes struct{ record []func() }

// NoteUse records use now, or, inside DryRun, once the request succeeds.
func NoteUse(ctx context.Context, use func()) {
	if n, ok := ctx.Value(usageNotesKey{}).(*usageNotes); ok {
		n.record = append(n.record, use)
		return
	}
	use()
}

type dryRunKey struct{}

// dryRunMode is what a dry run skips.
type dryRunMode struct {
	ignoreCiphertext bool // DryRunModifiers IGNORE_CIPHERTEXT: check access, not the ciphertext
}

// IgnoreCiphertext is AWS's DryRunModifiers value for Decrypt and ReEncrypt.
const IgnoreCiphertext = "IGNORE_CIPHERTEXT"

// IsDryRun reports a request running as a dry run.
func IsDryRun(ctx context.Context) bool {
	_, ok := ctx.Value(dryRunKey{}).(dryRunMode)
	return ok
}

// IgnoresCiphertext reports a dry run that checks access to the key named
// in the request without opening the ciphertext.
func IgnoresCiphertext(ctx context.Context) bool {
	m, _ := ctx.Value(dryRunKey{}).(dryRunMode)
	return m.ignoreCiphertext
}

func errDryRun() error {
	return kmserr.New(kmserr.DryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}

// DryRunStop ends a dry run right before a handler writes: the error is
// the dry run's success.
func DryRunStop(ctx context.Context) error {
	if IsDryRun(ctx) {
		return errDryRun()
	}
	return nil
}

// DryRun runs fn, in a dry-run context if on. A refusal is the real call's
// refusal; success is DryRunOperationException. modifiers are the request's
// DryRunModifiers, which apply only to a dry run.
func DryRun(ctx context.Context, on bool, modifiers []string, fn func(context.Context) error) error {
	var mode dryRunMode
	for _, m := range modifiers {
		if m != IgnoreCiphertext {
			return kmserr.Validationf("dry_run_modifiers: the one dry run modifier is %s", IgnoreCiphertext)
		}
		mode.ignoreCiphertext = true
	}
	if !on {
		if len(modifiers) > 0 {
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
