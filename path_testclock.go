package kms

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The test clock lets integration tests make the periodic work (automatic
// rotation, the end of a deletion window, the expiry of imported material)
// fall due without waiting days. It exists only when the plugin process
// starts with VAULT_KMS_TEST_CLOCK set to a true value (`vault plugin
// register -env VAULT_KMS_TEST_CLOCK=1 ...`); otherwise the path is not
// registered (404) and a stored offset is ignored, so a production mount
// runs on the system clock whatever its storage holds. Where it exists the
// path is root-protected (sudo).
//
// The offset lives in the mount's storage rather than in one node's memory:
// on a cluster only the active node runs the plugin, and a node that
// becomes active after a failover must see the same clock, so that whether
// work is due is a function of replicated state, as it is in production.
const (
	testClockEnv        = "VAULT_KMS_TEST_CLOCK"
	testClockPath       = "test/clock"
	testClockStorageKey = "test-clock"

	// maxTestClockOffset keeps now+offset far from time.Duration's limit
	// (292 years) while covering any window, rotation period or validity.
	maxTestClockOffset = 100 * 365 * 24 * time.Hour
)

type testClockEntry struct {
	Offset time.Duration `json:"offset"`
}

// testClockEnabled reads the variable once, when the plugin starts.
func testClockEnabled() bool {
	on, err := strconv.ParseBool(os.Getenv(testClockEnv))
	return err == nil && on
}

// enableTestClock adds the path and makes the backend's clock the system
// clock plus the stored offset. Factory calls it before Setup.
func (b *backend) enableTestClock(s logical.Storage) {
	b.testClock, b.clockStorage = true, s
	b.now = func() time.Time { return time.Now().Add(time.Duration(b.clockOffset.Load())) }
	b.Backend.Paths = append(b.Backend.Paths, pathTestClock(b))
	b.Backend.PathsSpecial.Root = append(b.Backend.PathsSpecial.Root, testClockPath)
}

func pathTestClock(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      testClockPath + "$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "test-clock"},
		Fields: map[string]*framework.FieldSchema{
			"offset": {Type: framework.TypeString, Required: true,
				Description: "How far the plugin's clock runs ahead of the system clock: seconds or a duration (90d, 2160h), 0 to 100 years."},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathTestClockRead,
				Summary: "Read the test clock's offset and the plugin's current time (test builds only; sudo)."},
			logical.UpdateOperation: &framework.PathOperation{Callback: b.pathTestClockWrite,
				Summary: "Set the test clock's offset (test builds only; sudo)."},
			logical.DeleteOperation: &framework.PathOperation{Callback: b.pathTestClockDelete,
				Summary: "Return the plugin to the system clock (test builds only; sudo)."},
		},
		HelpSynopsis:    "Move the plugin's clock forward, for tests only (sudo).",
		HelpDescription: pathTestClockHelp,
	}
}

func (b *backend) pathTestClockRead(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
	return &logical.Response{Data: map[string]any{
		"offset_seconds": int64(time.Duration(b.clockOffset.Load()).Seconds()),
		"now":            b.now().UTC().Format(time.RFC3339Nano),
	}}, nil
}

func (b *backend) pathTestClockWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	offset, err := parseOffset(d.Get("offset").(string))
	if err != nil {
		return nil, err
	}
	entry, err := logical.StorageEntryJSON(testClockStorageKey, &testClockEntry{Offset: offset})
	if err != nil {
		return nil, err
	}
	if err := req.Storage.Put(ctx, entry); err != nil {
		return nil, err
	}
	b.clockOffset.Store(int64(offset))
	b.Logger().Warn("test clock moved: the plugin's clock is ahead of the system clock", "offset", offset)
	return b.pathTestClockRead(ctx, req, d)
}

func (b *backend) pathTestClockDelete(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	if err := req.Storage.Delete(ctx, testClockStorageKey); err != nil {
		return nil, err
	}
	b.clockOffset.Store(0)
	b.Logger().Warn("test clock reset to the system clock")
	return nil, nil
}

// parseOffset reads seconds (3600), days (90d) or a Go duration (2160h),
// from 0 to maxTestClockOffset.
func parseOffset(s string) (time.Duration, error) {
	outOfRange := kmserr.Validationf("offset must be between 0 and %s, got %q", maxTestClockOffset, s)
	unit, num := time.Second, s
	if days, ok := strings.CutSuffix(s, "d"); ok {
		unit, num = 24*time.Hour, days
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 || n > int64(maxTestClockOffset/unit) {
			return 0, outOfRange
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, kmserr.Validationf("offset must be a number of seconds or a duration such as 90d or 2160h, got %q", s)
	}
	if d < 0 || d > maxTestClockOffset {
		return 0, outOfRange
	}
	return d, nil
}

// loadTestClock reads the stored offset: when the mount starts (a node that
// becomes active after a failover) and when another node changes it.
func (b *backend) loadTestClock(ctx context.Context, s logical.Storage) error {
	raw, err := s.Get(ctx, testClockStorageKey)
	if err != nil {
		return err
	}
	var e testClockEntry
	if raw != nil {
		if err := raw.DecodeJSON(&e); err != nil {
			return err
		}
	}
	b.clockOffset.Store(int64(e.Offset))
	return nil
}

const pathTestClockHelp = `
For tests only. The path exists only when the plugin process was started with
VAULT_KMS_TEST_CLOCK=1 in its environment (vault plugin register -env
VAULT_KMS_TEST_CLOCK=1 ...), and it needs sudo. Writing offset moves the
plugin's clock that far ahead of the system clock, on every node: the offset
is kept in the mount's storage, so a node that becomes active after a failover
runs on the same clock. Everything the plugin dates follows it: creation and
rotation dates, deletion windows, automatic rotation, expiry of imported
material and of import tokens, last usage. Deleting the path returns to the
system clock. Without the variable the plugin ignores a stored offset.
`
