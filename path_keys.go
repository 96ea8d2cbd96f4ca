package kms

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathKeys(b *backend) []*framework.Path {
	keyAction := func(suffix, op, summary string, fields map[string]*framework.FieldSchema, h framework.OperationFunc) *framework.Path {
		return &framework.Path{
			Pattern:      "keys/" + keyIDRef + "/" + suffix + "$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix},
			Fields:       withKey(fields),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: h, Summary: summary,
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: kebab(op)}},
			},
			HelpSynopsis:    summary,
			HelpDescription: keyActionHelp,
		}
	}
	return []*framework.Path{
		{
			Pattern:      "keys/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "keys"},
			Fields: map[string]*framework.FieldSchema{
				"key_spec": {Type: framework.TypeString, Default: keyspec.SymmetricDefault,
					Description: "Key spec: " + strings.Join(keyspec.Names(), ", ") + "."},
				"key_usage": {Type: framework.TypeString,
					Description: "Key usage: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT. Defaults to the spec's first allowed usage."},
				"description":                        {Type: framework.TypeString, Description: "Description, at most 8192 characters."},
				"tags":                               fieldTags,
				"alias":                              {Type: framework.TypeString, Description: "Optional alias to create for the new key, named in full: alias/<name>."},
				"origin":                             {Type: framework.TypeString, Default: originAWSKMS, Description: "Origin of the key material: AWS_KMS, EXTERNAL to import it, or AWS_CLOUDHSM for a key in a custom key store (implied by custom_key_store_id)."},
				"custom_key_store_id":                {Type: framework.TypeString, Description: "Create the key in this custom key store (CONNECTED): an AES-256 key object generated in its token, non-extractable; SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT only."},
				"policy":                             fieldPolicy,
				"bypass_policy_lockout_safety_check": fieldBypassLockout,
				"limit":                              fieldLimit,
				"after":                              fieldAfter,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathKeyCreate, Summary: "Create a key (CreateKey).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "create", OperationSuffix: "key"}},
				logical.ListOperation: &framework.PathOperation{Callback: b.pathKeyList, Summary: "List keys (ListKeys), paged.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list"}},
			},
			HelpSynopsis:    pathKeysHelpSyn,
			HelpDescription: pathKeysHelpDesc,
		},
		keyAction("enable", opEnableKey, "Enable a key (EnableKey).", nil, b.pathKeyEnable),
		keyAction("disable", opDisableKey, "Disable a key (DisableKey).", nil, b.pathKeyDisable),
		keyAction("schedule-deletion", opScheduleKeyDeletion, "Schedule the deletion of a key (ScheduleKeyDeletion).",
			map[string]*framework.FieldSchema{"pending_window_days": {Type: framework.TypeInt, Default: keyspec.MaxPendingWindow,
				Description: "Days before the key is destroyed, 7..30 (default 30)."}},
			b.pathKeyScheduleDeletion),
		keyAction("cancel-deletion", opCancelKeyDeletion, "Cancel a scheduled deletion; the key returns Disabled (CancelKeyDeletion).",
			nil, b.pathKeyCancelDeletion),
	}
}

// pathKeyDescribe is keys/<key>. It must be registered after every
// keys/<key>/<suffix> path, since its pattern matches those too.
func pathKeyDescribe(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      "keys/" + keyRef + "$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "key"},
		Fields: withKey(map[string]*framework.FieldSchema{
			"description":  {Type: framework.TypeString, Description: "New description (UpdateKeyDescription)."},
			"grant_tokens": fieldGrantTokens,
		}),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathKeyRead, Summary: "Describe a key (DescribeKey).",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "describe"}},
			logical.UpdateOperation: &framework.PathOperation{Callback: b.pathKeyUpdateDescription,
				Summary:      "Update a key's description (UpdateKeyDescription).",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "update", OperationSuffix: "key-description"}},
		},
		HelpSynopsis:    pathKeysHelpSyn,
		HelpDescription: pathKeysHelpDesc,
	}
}

// pathKeyList is AWS's ListKeys: the id and ARN of every key, nothing
// more (describe is per key and authorized). It reads the key index and
// the small deletion index, never the keys themselves.
func (b *backend) pathKeyList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ids, err := req.Storage.List(ctx, keyStoragePrefix)
	if err != nil {
		return nil, err
	}
	gone, err := b.dueDeletions(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if err := b.hideUnfinishedCreates(ctx, req.Storage, gone); err != nil {
		return nil, err
	}
	live := ids[:0]
	for _, id := range ids {
		if !gone[id] {
			live = append(live, id)
		}
	}
	names, next, err := page(live, d)
	if err != nil {
		return nil, err
	}
	arns, err := b.arns(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	info := make(map[string]any, len(names))
	for _, id := range names {
		info[id] = map[string]any{"key_id": id, "arn": arns.Key(id)}
	}
	return listResponse(names, info, next), nil
}

func (b *backend) pathKeyRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if err := b.notAnActionPath(ctx, req.Storage, d.Get("key_id").(string)); err != nil {
		return nil, err
	}
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), true)
	if isNotFound(err) && endsInAction(d.Get("key_id").(string)) {
		// keys/alias/x/tags: an alias, which a management path refuses.
		return nil, errIDOnly()
	}
	if err != nil {
		return nil, err
	}
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, e.KeyID, false, opDescribeKey, err)
	}
	if err := b.authorize(ctx, req, e, opDescribeKey, nil, tokens); err != nil {
		return nil, err
	}
	resp, err := b.keyResponse(ctx, req.Storage, e)
	if err != nil {
		return nil, err
	}
	// Key last usage (AWS's GetKeyLastUsage), with a resolution of a minute
	// in storage.
	u, err := b.lastUse(ctx, req.Storage, e.KeyID)
	if err != nil {
		return nil, err
	}
	if u != nil {
		resp.Data["last_used_date"] = u.At.Format(time.RFC3339)
		resp.Data["last_used_operation"] = usedOperationName(u.Operation)
	}
	return resp, nil
}

func (b *backend) pathKeyUpdateDescription(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The Vault-style path takes the key id only, as every management path
	// (see keyIDRef); the AWS endpoint runs this handler on the route
	// keys/:key and still takes the ARN.
	if strings.Contains(strings.TrimPrefix(req.Path, "keys/"), "/") {
		return nil, errIDOnly()
	}
	return b.modifyKeyResponse(ctx, req, d, opUpdateKeyDescription, func(e *keyEntry) error {
		raw, ok := d.GetOk("description")
		if !ok {
			return kmserr.Validationf("description is required")
		}
		desc := raw.(string)
		if len(desc) > keyspec.MaxDescription {
			return kmserr.Validationf("description is longer than %d characters", keyspec.MaxDescription)
		}
		e.Description = desc
		return nil
	})
}

func (b *backend) pathKeyEnable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), opEnableKey, func(e *keyEntry) error {
		e.State = stateEnabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A key skipped by rotation while disabled is due again now.
	if e.RotationPeriodDays > 0 {
		b.keys.QueueRotation(e.KeyID, e.NextRotation)
	}
	return b.keyResponse(ctx, req.Storage, e)
}

func (b *backend) pathKeyDisable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return b.modifyKeyResponse(ctx, req, d, opDisableKey, func(e *keyEntry) error {
		e.State = stateDisabled
		return nil
	})
}

func (b *backend) pathKeyScheduleDeletion(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return b.modifyKeyResponse(ctx, req, d, opScheduleKeyDeletion, func(e *keyEntry) error {
		days := d.Get("pending_window_days").(int)
		if days < keyspec.MinPendingWindow || days > keyspec.MaxPendingWindow {
			return kmserr.Validationf("pending_window_days must be between %d and %d, got %d",
				keyspec.MinPendingWindow, keyspec.MaxPendingWindow, days)
		}
		e.State = statePendingDeletion
		e.PendingWindowDays = days
		e.DeletionDate = b.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		entry, err := logical.StorageEntryJSON(deletionStoragePrefix+e.KeyID, &deletionEntry{KeyID: e.KeyID, DeletionDate: e.DeletionDate})
		if err != nil {
			return err
		}
		return req.Storage.Put(ctx, entry)
	})
}

func (b *backend) pathKeyCancelDeletion(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return b.modifyKeyResponse(ctx, req, d, opCancelKeyDeletion, func(e *keyEntry) error {
		// AWS: a cancelled key comes back Disabled, or PendingImport when
		// it has no key material.
		e.State = stateDisabled
		if !e.HasCurrentMaterial() {
			e.State = statePendingImport
		}
		e.DeletionDate = time.Time{}
		e.PendingWindowDays = 0
		return req.Storage.Delete(ctx, deletionStoragePrefix+e.KeyID)
	})
}

// lockedKey resolves a key reference (key id or key ARN), locks the key and
// reads it again from storage (never the cache) under the lock, so that a
// read-modify-write starts from the stored entry. The caller must call unlock.
func (b *backend) lockedKey(ctx context.Context, s logical.Storage, ref string) (e *keyEntry, unlock func(), err error) {
	if e, err = b.resolveKey(ctx, s, ref, false); err != nil {
		return nil, nil, err
	}
	unlock = b.lockKey(e.KeyID)
	id := e.KeyID
	if e, err = b.loadKey(ctx, s, id); err != nil {
		unlock()
		return nil, nil, err
	}
	if e == nil || b.isDeleted(e) {
		unlock()
		return nil, nil, kmserr.NotFoundf("key '%s' does not exist", id)
	}
	return e, unlock, nil
}

// modifyKey is the one read-modify-write of a key: it locks the key,
// checks the operation against the caller and the key state, applies
// change to a clone and stores the clone.
func (b *backend) modifyKey(ctx context.Context, req *logical.Request, ref, op string, change func(*keyEntry) error) (*keyEntry, error) {
	return b.modifyKeyThen(ctx, req, ref, op, change, nil)
}

// modifyKeyThen is modifyKey with a step run after the key is stored,
// still under the key's lock (index entries that must follow the key).
func (b *backend) modifyKeyThen(ctx context.Context, req *logical.Request, ref, op string, change, after func(*keyEntry) error) (*keyEntry, error) {
	s := req.Storage
	e, unlock, err := b.lockedKey(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := b.authorize(ctx, req, e, op, nil, nil); err != nil {
		return nil, err
	}
	if err := checkState(e, op); err != nil {
		return nil, err
	}
	c := e.Clone()
	if err := change(c); err != nil {
		return nil, err
	}
	if err := b.putKey(ctx, s, c); err != nil {
		return nil, err
	}
	if after != nil {
		if err := after(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (b *backend) modifyKeyResponse(ctx context.Context, req *logical.Request, d *framework.FieldData, op string, change func(*keyEntry) error) (*logical.Response, error) {
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), op, change)
	if err != nil {
		return nil, err
	}
	return b.keyResponse(ctx, req.Storage, e)
}

// keyResponse is AWS's KeyMetadata in Vault's snake_case, plus the key's
// aliases, which AWS users otherwise need a second call for.
func (b *backend) keyResponse(ctx context.Context, s logical.Storage, e *keyEntry) (*logical.Response, error) {
	state, err := b.keyStateOf(e)
	if err != nil {
		return nil, err
	}
	aliases, err := b.aliasesOf(ctx, s, e.KeyID)
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
		"enabled":       state == stateEnabled,
		"origin":        e.Origin,
		"key_manager":   "CUSTOMER",
		"aliases":       nonNil(aliases),
	}
	if v, _ := e.Latest(); v > 0 {
		data["current_key_version"] = v
		id, err := b.currentMaterialID(ctx, s, e)
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
	if err := b.storeFields(ctx, s, e, data); err != nil {
		return nil, err
	}
	if e.State == statePendingDeletion {
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

// arns returns the mount's ARN scheme.
func (b *backend) arns(ctx context.Context, s logical.Storage) (arnScheme, error) {
	c, err := b.config(ctx, s)
	if err != nil {
		return "", err
	}
	return c.arns(), nil
}

const pathKeysHelpSyn = "Create, list and describe KMS keys."

const pathKeysHelpDesc = `
Write to keys to create a key (key_spec, key_usage, description, tags, alias);
list keys to page through them; read keys/<key> to describe one, where <key>
is a key id, key ARN, alias name or alias ARN; write keys/<key> with a
description to update it.
`

const keyActionHelp = `
Key state changes follow AWS KMS: a disabled key refuses cryptographic
operations; a key pending deletion refuses everything but describe and
cancel-deletion, and is destroyed when its window (7..30 days) ends.
These paths take the key id only (the AWS endpoint also the key ARN).
`

func usageNames() string {
	var names []string
	for _, u := range keyspec.Usages() {
		names = append(names, string(u))
	}
	return keyspec.OneOf(names)
}
