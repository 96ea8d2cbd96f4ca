package kms

import (
	"context"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The key store lives in internal/keystore; these names keep the path
// files' spelling while the packages below the root take shape (issue 23).
type (
	keyEntry      = keystore.Key
	keyVersion    = keystore.Version
	aliasEntry    = keystore.Alias
	deletionEntry = keystore.DeletionEntry
)

// Storage layout: see docs/STORAGE.md.
const (
	keyStoragePrefix      = keystore.KeyPrefix
	creatingStoragePrefix = keystore.CreatingPrefix
	aliasStoragePrefix    = keystore.AliasPrefix
	deletionStoragePrefix = keystore.DeletionPrefix
)

const (
	stateEnabled         = keystore.StateEnabled
	stateDisabled        = keystore.StateDisabled
	statePendingDeletion = keystore.StatePendingDeletion
	statePendingImport   = keystore.StatePendingImport

	originAWSKMS   = keystore.OriginAWSKMS
	originExternal = keystore.OriginExternal
)

func (b *backend) readKey(ctx context.Context, s logical.Storage, id string, prev *keyEntry) (*keyEntry, error) {
	return b.keys.Read(ctx, s, id, prev)
}

func (b *backend) getKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	return b.keys.Get(ctx, s, id)
}

func (b *backend) loadKey(ctx context.Context, s logical.Storage, id string) (*keyEntry, error) {
	return b.keys.Load(ctx, s, id)
}

func (b *backend) putKey(ctx context.Context, s logical.Storage, e *keyEntry) error {
	return b.keys.Put(ctx, s, e)
}

func (b *backend) lockKey(id string) func() { return b.keys.Lock(id) }

func (b *backend) isDeleted(e *keyEntry) bool { return b.keys.IsDeleted(e) }

func (b *backend) deleteDueKeys(ctx context.Context, s logical.Storage) error {
	return b.keys.DeleteDueKeys(ctx, s)
}

func (b *backend) sweepUnfinishedCreates(ctx context.Context, s logical.Storage) error {
	return b.keys.SweepUnfinishedCreates(ctx, s)
}

func (b *backend) createWithAlias(ctx context.Context, s logical.Storage, e *keyEntry, a *aliasEntry) error {
	return b.keys.CreateWithAlias(ctx, s, e, a)
}

func (b *backend) hideUnfinishedCreates(ctx context.Context, s logical.Storage, gone map[string]bool) error {
	return b.keys.HideUnfinishedCreates(ctx, s, gone)
}

func (b *backend) dueDeletions(ctx context.Context, s logical.Storage) (map[string]bool, error) {
	return b.keys.DueDeletions(ctx, s)
}

// resolveKey turns a key reference (key id, key ARN, alias name or alias
// ARN) into the key. allowAlias is false for the operations AWS refuses on
// aliases (EnableKey, TagResource, ...).
func (b *backend) resolveKey(ctx context.Context, s logical.Storage, ref string, allowAlias bool) (*keyEntry, error) {
	if ref == "" {
		return nil, kmserr.Validationf("a key id is required")
	}
	if err := checkRefSpacing(ref); err != nil {
		return nil, err
	}
	arns, err := b.arns(ctx, s)
	if err != nil {
		return nil, err
	}
	id, alias, err := arns.parse(ref)
	if err == nil {
		err = checkKeyRef(id, alias)
	}
	if err != nil {
		return nil, err
	}
	if alias != "" {
		if !allowAlias {
			return nil, kmserr.Validationf("this operation does not accept an alias (%s); use the key id or key ARN", alias)
		}
		a, err := b.getAlias(ctx, s, alias)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, kmserr.NotFoundf("alias %s does not exist", alias)
		}
		id = a.TargetKeyID
	}
	e, err := b.getKey(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if e == nil || b.isDeleted(e) {
		return nil, kmserr.NotFoundf("key '%s' does not exist", id)
	}
	return e, nil
}

// parse splits a reference into a key id or an alias name. An ARN of
// another partition, region or account names no key of this mount.
func (a arnScheme) parse(ref string) (id, alias string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		// arn:<partition>:kms:<region>:<account>:<resource>
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN %q", ref)
		}
		if !strings.HasPrefix(ref, string(a)) {
			return "", "", kmserr.New(kmserr.NotFound, "ARN %q is not of this mount, whose ARNs start with %s", ref, a)
		}
		ref = parts[5]
		switch {
		case strings.HasPrefix(ref, "key/"):
			return strings.TrimPrefix(ref, "key/"), "", nil
		case strings.HasPrefix(ref, "alias/"):
			return "", ref, nil
		}
		return "", "", kmserr.New(kmserr.NotFound, "invalid key ARN resource %q", ref)
	}
	if strings.HasPrefix(ref, "alias/") {
		return "", ref, nil
	}
	return ref, "", nil
}
