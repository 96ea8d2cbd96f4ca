// Package keystore is what the plugin stores about keys and how it is read
// and changed: key entries and their material versions, aliases and their
// index, the generation caches, per-key locks, crash-safe CreateKey, the
// sweeps and schedules, last-usage records and key states. The storage
// layout is written down in docs/STORAGE.md.
//
// It sits below the Vault glue: it takes logical.Storage and what it needs
// (a clock, a logger, hooks) from its caller, and never imports the root
// package, the framework's request types or the access-control package.
package keystore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// Storage prefixes owned by this package (docs/STORAGE.md lists them all).
// key/ is seal-wrapped: it holds key material.
const (
	KeyPrefix      = "key/"      // key/<key id>: Key
	CreatingPrefix = "creating/" // creating/<key id>: index of unfinished CreateKeys
	AliasPrefix    = "alias/"    // alias/<escaped name>: Alias
	DeletionPrefix = "deletion/" // deletion/<key id>: index of keys pending deletion
	RotationPrefix = "rotation/" // rotation/<key id>: keys with automatic rotation
	ExpiryPrefix   = "expiry/"   // expiry/<key id>: keys whose imported material expires
	UsagePrefix    = "usage/"    // usage/<key id>: the key's last use
	ImportPrefix   = "import/"   // import/<key id>: the wrapping key of an import (seal-wrapped)
	// encryption-count/<key id>: the encryptions reserved for a key in a
	// custom key store (EncryptionCount)
	EncryptionCountPrefix = "encryption-count/"
)

// LayoutKey holds the version of the storage layout the mount was written
// with. A change of the layout that old data does not satisfy raises
// LayoutVersion and migrates explicitly, from the stored version.
const (
	LayoutKey     = "layout"
	LayoutVersion = 1
)

// CheckLayout records the layout version on a mount that has none (a new
// mount, or one written before the version was stored) and refuses a mount
// written by a newer plugin, whose storage this code would misread. write
// is false on a node that cannot write storage: it only checks.
func CheckLayout(ctx context.Context, s logical.Storage, write bool) error {
	raw, err := s.Get(ctx, LayoutKey)
	if err != nil {
		return err
	}
	if raw == nil {
		if !write {
			return nil
		}
		return s.Put(ctx, &logical.StorageEntry{Key: LayoutKey, Value: []byte(strconv.Itoa(LayoutVersion))})
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(raw.Value)))
	switch {
	case err != nil || v < 1:
		return fmt.Errorf("the mount's storage layout version (%s) is not one this plugin knows; it reads layout version %d: refusing to start", LayoutKey, LayoutVersion)
	case v > LayoutVersion:
		return fmt.Errorf("the mount's storage was written with layout version %d, newer than this plugin's %d: refusing to start (run a plugin version that reads layout %d)", v, LayoutVersion, v)
	}
	return nil
}
