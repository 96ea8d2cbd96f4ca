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
)
