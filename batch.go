package kms

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// itemFunc performs one cryptographic operation on one set of fields.
type itemFunc func(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error)

// maxBatch bounds batch_input, so one request cannot hold a worker for
// long.
const maxBatch = 1000

// batchable serves fn for a single request, or for each item of
// batch_input. Items are validated against the path's own field schema; the
// path's key applies to every item, and any other field given at the top
// level of the request is the default of every item that does not set it
// (as in Transit). A refused item gets an error entry and the others still
// run; only an internal failure fails the whole request.
//
// Items run in parallel on up to GOMAXPROCS workers (Transit works through a
// batch one item at a time); results keep the input order. Every item goes
// through fn, and so through its own authorization; items whose condition
// keys are equal share one evaluation of the key policy (internal/access/memo.go).
func batchable(fields map[string]*framework.FieldSchema, fn itemFunc) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		raw, ok := d.GetOk("batch_input")
		if !ok {
			data, err := fn(ctx, req, d)
			if err != nil {
				return nil, err
			}
			return &logical.Response{Data: data}, nil
		}
		items := raw.([]any)
		if len(items) < 1 || len(items) > maxBatch {
			return nil, kmserr.Validationf("batch_input must hold 1 to %d items", maxBatch)
		}
		defaults := batchDefaults(d)
		ctx = withDecisionMemo(ctx)
		results := make([]map[string]any, len(items))
		run := func(i int) error {
			fd, invalid := batchItem(i, items[i], defaults, fields)
			if invalid != nil {
				results[i] = errorItem(invalid)
				return nil
			}
			// Each item's own parameters (algorithms, message type, alias)
			// are the condition keys its authorization tests: without them a
			// Deny on one would never match a batch item.
			out, err := fn(fieldAttrs(ctx, fd), req, fd)
			var ke *kmserr.Error
			switch {
			case err == nil:
				results[i] = out
			case errors.As(err, &ke):
				results[i] = errorItem(ke)
			default:
				return err
			}
			return nil
		}
		if err := forEachParallel(ctx, len(items), run); err != nil {
			return nil, err
		}
		if len(items) >= largeBatchItems {
			idleRelease.arm()
		}
		return &logical.Response{Data: map[string]any{"batch_results": results}}, nil
	}
}

// batchForced are the top-level fields an item cannot override: the path's
// key, and a dry run (no item may escape it).
var batchForced = map[string]bool{"key_id": true, "dry_run": true, "dry_run_modifiers": true}

// batchDefaults returns the top-level fields of a batch request, which
// items inherit unless they set their own (batchForced apart).
func batchDefaults(d *framework.FieldData) map[string]any {
	defaults := make(map[string]any, len(d.Raw))
	for k, v := range d.Raw {
		if k != "batch_input" {
			defaults[k] = v
		}
	}
	return defaults
}

// batchItem builds and validates the fields of batch item i.
func batchItem(i int, it any, defaults map[string]any, fields map[string]*framework.FieldSchema) (*framework.FieldData, *kmserr.Error) {
	m, ok := it.(map[string]any)
	if !ok {
		return nil, kmserr.Validationf("batch item %d is not an object", i).(*kmserr.Error)
	}
	item := make(map[string]any, len(m)+len(defaults))
	for k, v := range m {
		if k != "batch_input" {
			item[k] = v
		}
	}
	for k, v := range defaults {
		if _, set := item[k]; !set || batchForced[k] {
			item[k] = v
		}
	}
	fd := &framework.FieldData{Raw: item, Schema: fields}
	if ke := checkFields(fd, nil); ke != nil {
		return nil, kmserr.New(ke.Type, "batch item %d: %s", i, ke.Msg)
	}
	return fd, nil
}

// forEachParallel calls run(i) for i in [0, n) on up to GOMAXPROCS
// goroutines. It returns the first error; items not yet started then do not
// run, nor do they once ctx is done.
func forEachParallel(ctx context.Context, n int, run func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := run(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = run(i)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func errorItem(e *kmserr.Error) map[string]any {
	return map[string]any{"error": e.Error(), "error_type": e.Type}
}

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

// cryptoPath builds the path of one cryptographic operation, served singly
// or in batches.
func cryptoPath(pattern, name, summary, help string, fields map[string]*framework.FieldSchema, fn itemFunc) *framework.Path {
	f := cryptoFields(fields)
	if pattern[len(pattern)-1] != '$' {
		pattern += "$"
	}
	return &framework.Path{
		Pattern:      pattern,
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: name},
		Fields:       f,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{Callback: batchable(f, dryRunItem(fn)), Summary: summary},
		},
		HelpSynopsis:    summary,
		HelpDescription: help,
	}
}

// A batch of many items makes the heap grow by tens of MB (the SDK's
// copies of a 5 MB body and of the results). Go keeps that heap until its
// next collection, which an idle plugin reaches only by the runtime's
// 2-minute forced GC, and then hands pages back gradually; so after a burst
// of large batches the plugin's RSS stays high for minutes. idleRelease
// returns the memory once no large batch has run for a while.
const (
	largeBatchItems = 100
	releaseDelay    = 10 * time.Second
)

type memoryReleaser struct {
	mu      sync.Mutex
	timer   *time.Timer
	delay   time.Duration
	release func()
}

// idleRelease is process-wide, as the heap is (one plugin process serves
// every mount).
var idleRelease = &memoryReleaser{delay: releaseDelay, release: debug.FreeOSMemory}

// arm (re)starts the countdown to a release.
func (r *memoryReleaser) arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.delay, r.release)
		return
	}
	r.timer.Reset(r.delay)
}
