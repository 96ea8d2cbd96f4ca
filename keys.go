package kms

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// What the key paths share: a key's read-modify-write under its lock, and
// the key's response (DescribeKey's fields).

// lockedKey resolves a key reference (key id or key ARN), locks the key and
// reads it again from storage (never the cache) under the lock, so that a
// read-modify-write starts from the stored entry. The caller must call unlock.
func (b *backend) lockedKey(ctx context.Context, s logical.Storage, ref string) (e *keystore.Key, unlock func(), err error) {
	if e, err = b.resolveKey(ctx, s, ref, false); err != nil {
		return nil, nil, err
	}
	unlock = b.keys.Lock(e.KeyID)
	id := e.KeyID
	if e, err = b.keys.Load(ctx, s, id); err != nil {
		unlock()
		return nil, nil, err
	}
	if e == nil || b.keys.IsDeleted(e) {
		unlock()
		return nil, nil, kmserr.NotFoundf("key '%s' does not exist", id)
	}
	return e, unlock, nil
}

// modifyKey is the one read-modify-write of a key: it locks the key,
// checks the operation against the caller and the key state, applies
// change to a clone and stores the clone.
func (b *backend) modifyKey(ctx context.Context, req *logical.Request, ref, op string, change func(*keystore.Key) error) (*keystore.Key, error) {
	return b.modifyKeyThen(ctx, req, ref, op, change, nil)
}

// modifyKeyThen is modifyKey with a step run after the key is stored,
// still under the key's lock (index entries that must follow the key).
func (b *backend) modifyKeyThen(ctx context.Context, req *logical.Request, ref, op string, change, after func(*keystore.Key) error) (*keystore.Key, error) {
	s := req.Storage
	e, unlock, err := b.lockedKey(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := b.authorize(ctx, req, e, op, nil, nil); err != nil {
		return nil, err
	}
	if err := keystore.CheckState(e, op); err != nil {
		return nil, err
	}
	c := e.Clone()
	if err := change(c); err != nil {
		return nil, err
	}
	if err := b.keys.Put(ctx, s, c); err != nil {
		return nil, err
	}
	if after != nil {
		if err := after(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (b *backend) modifyKeyResponse(ctx context.Context, req *logical.Request, d *framework.FieldData, op string, change func(*keystore.Key) error) (*logical.Response, error) {
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), op, change)
	if err != nil {
		return nil, err
	}
	return b.keyResponse(ctx, req.Storage, e)
}

// keyResponse is AWS's KeyMetadata in Vault's snake_case, plus the key's
// aliases, which AWS users otherwise need a second call for.
func (b *backend) keyResponse(ctx context.Context, s logical.Storage, e *keystore.Key) (*logical.Response, error) {
	state, err := b.tokens.State(e)
	if err != nil {
		return nil, err
	}
	aliases, err := b.keys.AliasesOf(ctx, s, e.KeyID)
	if err != nil {
		return nil, err
	}
	arns, err := b.arns(ctx, s)
	if err != nil {
		return nil, err
	}
	algs := e.Spec().Algorithms(e.KeyUsage)
	data := map[string]any{
		"key_id":        e.KeyID,
		"arn":           arns.Key(e.KeyID),
		"creation_date": e.CreationDate.Format(time.RFC3339),
		"description":   e.Description,
		"key_spec":      e.KeySpec,
		"key_usage":     e.KeyUsage,
		"key_state":     state,
		"enabled":       state == keystore.StateEnabled,
		"origin":        e.Origin,
		"key_manager":   "CUSTOMER",
		"aliases":       nonNil(aliases),
	}
	if v, _ := e.Latest(); v > 0 {
		data["current_key_version"] = v
		id, err := b.keys.CurrentMaterialID(ctx, s, e)
		if err != nil {
			return nil, err
		}
		if id != "" {
			data["current_key_material_id"] = id
		}
	}
	setIf(data, "encryption_algorithms", algs.Encryption)
	setIf(data, "signing_algorithms", algs.Signing)
	setIf(data, "mac_algorithms", algs.MAC)
	setIf(data, "key_agreement_algorithms", algs.KeyAgreement)
	setIf(data, "encapsulation_algorithms", algs.Encapsulation)
	if e.ExpirationModel != "" {
		data["expiration_model"] = e.ExpirationModel
		if !e.ValidTo.IsZero() {
			data["valid_to"] = e.ValidTo.Format(time.RFC3339)
		}
	}
	if err := b.tokens.Fields(ctx, s, e, data); err != nil {
		return nil, err
	}
	if e.State == keystore.StatePendingDeletion {
		data["deletion_date"] = e.DeletionDate.Format(time.RFC3339)
		data["pending_deletion_window_in_days"] = e.PendingWindowDays
	}
	return &logical.Response{Data: data}, nil
}

func setIf(data map[string]any, k string, v []string) {
	if len(v) > 0 {
		data[k] = v
	}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func usageNames() string {
	var names []string
	for _, u := range keyspec.Usages() {
		names = append(names, string(u))
	}
	return keyspec.OneOf(names)
}

// usedOperationName is the AWS name of a recorded operation: both halves of
// a ReEncrypt are ReEncrypt.
func usedOperationName(op string) string {
	if op == keyspec.OpReEncryptFrom || op == keyspec.OpReEncryptTo {
		return "ReEncrypt"
	}
	return op
}
