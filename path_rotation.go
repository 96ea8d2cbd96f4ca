package kms

import (
	"context"
	"strconv"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathRotation(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "keys/" + keyIDRef + "/rotation$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "key-rotation"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"rotation_period_days": {Type: framework.TypeInt, Default: keyspec.DefaultRotationDays,
					Description: "Days between automatic rotations, 90..2560 (default 365)."},
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.pathRotationRead, Summary: "Rotation status (GetKeyRotationStatus).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathRotationEnable, Summary: "Enable automatic rotation (EnableKeyRotation).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "enable"}},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.pathRotationDisable, Summary: "Disable automatic rotation (DisableKeyRotation).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "disable"}},
			},
			HelpSynopsis:    "Automatic rotation of a symmetric key.",
			HelpDescription: pathRotationHelp,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/rotate$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "rotate", OperationSuffix: "key"},
			Fields:       withKey(nil),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathRotateOnDemand, Summary: "Rotate now (RotateKeyOnDemand)."},
			},
			HelpSynopsis:    "Rotate a symmetric key's material now.",
			HelpDescription: pathRotationHelp,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/rotations/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "list", OperationSuffix: "key-rotations"},
			Fields: withKey(map[string]*framework.FieldSchema{"limit": fieldLimit, "after": fieldAfter,
				"include_key_material": fieldIncludeKeyMaterial}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathRotationList, Summary: "List completed rotations (ListKeyRotations)."},
			},
			HelpSynopsis:    "List a key's rotations.",
			HelpDescription: pathRotationHelp,
		},
	}
}

// rotatesOnDemand refuses keys that have no rotations at all: symmetric
// keys rotate, imported ones on demand only (to their newest pending
// material).
func rotatesOnDemand(e *keystore.Key) error {
	if e.Spec().Family == keyspec.FamilySymmetric && e.Origin == keystore.OriginExternal {
		return nil
	}
	return rotatable(e)
}

// rotatable refuses automatic rotation of keys AWS cannot rotate.
func rotatable(e *keystore.Key) error {
	if e.Spec().Family != keyspec.FamilySymmetric || e.Origin != keystore.OriginAWSKMS {
		return kmserr.Unsupportedf("key '%s' (%s, origin %s) cannot be rotated; only SYMMETRIC_DEFAULT keys with AWS_KMS key material rotate", e.KeyID, e.KeySpec, e.Origin)
	}
	return nil
}

func (b *backend) pathRotationRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpGetKeyRotationStatus, nil, nil); err != nil {
		return nil, err
	}
	// Rotations here complete within the request, so no on-demand
	// rotation is ever in progress and on_demand_rotation_start_date is
	// never set.
	if err := rotatesOnDemand(e); err != nil {
		return nil, err
	}
	data := map[string]any{
		"key_id":                        e.KeyID,
		"key_rotation_enabled":          e.RotationPeriodDays > 0,
		"on_demand_rotations_remaining": keyspec.MaxOnDemandRotations - e.OnDemandRotations(),
	}
	if e.RotationPeriodDays > 0 {
		data["rotation_period_in_days"] = e.RotationPeriodDays
		data["next_rotation_date"] = e.NextRotation.Format(time.RFC3339)
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) pathRotationEnable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	_, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpEnableKeyRotation, func(e *keystore.Key) error {
		if err := rotatable(e); err != nil {
			return err
		}
		days := d.Get("rotation_period_days").(int)
		if days < keyspec.MinRotationDays || days > keyspec.MaxRotationDays {
			return kmserr.Validationf("rotation_period_days must be between %d and %d", keyspec.MinRotationDays, keyspec.MaxRotationDays)
		}
		// AWS: a new period counts from the latest rotation (or creation).
		last := e.Versions[len(e.Versions)-1].CreatedAt
		e.RotationPeriodDays = days
		e.NextRotation = last.Add(time.Duration(days) * 24 * time.Hour)
		// Under the key's lock, before the key: an index entry without
		// rotation enabled is harmless (rotateIfDue removes it), an
		// enabled key without one would never rotate.
		return b.keys.ScheduleRotation(ctx, req.Storage, e)
	})
	if err != nil {
		return nil, err
	}
	return b.pathRotationRead(ctx, req, d)
}

func (b *backend) pathRotationDisable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The index entry goes after the key, still under the key's lock (see
	// pathRotationEnable for the order).
	_, err := b.modifyKeyThen(ctx, req, d.Get("key_id").(string), keyspec.OpDisableKeyRotation, func(e *keystore.Key) error {
		if err := rotatable(e); err != nil {
			return err
		}
		e.RotationPeriodDays, e.NextRotation = 0, time.Time{}
		return nil
	}, func(e *keystore.Key) error {
		return b.keys.ScheduleRotation(ctx, req.Storage, e)
	})
	return nil, err
}

func (b *backend) pathRotateOnDemand(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpRotateKeyOnDemand, func(e *keystore.Key) error {
		if err := rotatesOnDemand(e); err != nil {
			return err
		}
		if e.OnDemandRotations() >= keyspec.MaxOnDemandRotations {
			return kmserr.New(kmserr.LimitExceeded, "key '%s' has used all %d on-demand rotations", e.KeyID, keyspec.MaxOnDemandRotations)
		}
		if e.Origin == keystore.OriginExternal {
			return rotateToPending(e, b.now().UTC())
		}
		// On-demand rotation leaves the automatic schedule unchanged.
		return b.keys.Rotate(e, keystore.RotationOnDemand, b.now().UTC())
	})
	if err != nil {
		return nil, err
	}
	v, _ := e.Latest()
	data := map[string]any{"key_id": e.KeyID, "current_key_version": v}
	id, err := b.keys.CurrentMaterialID(ctx, req.Storage, e)
	if err != nil {
		return nil, err
	}
	data["key_material_id"] = id
	return &logical.Response{Data: data}, nil
}

func (b *backend) pathRotationList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), false)
	if err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, req, e, keyspec.OpListKeyRotations, nil, nil); err != nil {
		return nil, err
	}
	if err := rotatesOnDemand(e); err != nil {
		return nil, err
	}
	include := d.Get("include_key_material").(string)
	if include != includeRotationsOnly && include != includeAllMaterial {
		return nil, kmserr.Validationf("include_key_material must be %s or %s", includeRotationsOnly, includeAllMaterial)
	}
	ids, err := b.keys.MaterialIDs(ctx, req.Storage, e)
	if err != nil {
		return nil, err
	}
	// Versions are named by zero-padded numbers so they sort in order.
	var names []string
	byName := map[string]keystore.Version{}
	for _, v := range e.Versions {
		if v.Released || (v.RotationType == "" && include == includeRotationsOnly) {
			continue // the first material, or imported material not rotated to
		}
		n := versionName(v.Version)
		names = append(names, n)
		byName[n] = v
	}
	page, next, err := page(names, d)
	if err != nil {
		return nil, err
	}
	info := map[string]any{}
	for _, n := range page {
		info[n] = rotationInfo(e, byName[n], ids[byName[n].Version])
	}
	return listResponse(page, info, next), nil
}

// rotationInfo is one entry of ListKeyRotations.
func rotationInfo(e *keystore.Key, v keystore.Version, id string) map[string]any {
	m := map[string]any{"key_id": e.KeyID, "key_version": v.Version, "key_material_id": id,
		"key_material_state": e.MaterialState(v.Version)}
	if v.RotationType != "" {
		at := v.CreatedAt
		if !v.RotatedAt.IsZero() {
			at = v.RotatedAt
		}
		m["rotation_date"], m["rotation_type"] = at.Format(time.RFC3339), v.RotationType
	}
	if e.Origin == keystore.OriginExternal {
		m["import_state"] = importImported
		if len(v.Material) == 0 {
			m["import_state"] = importPending
		}
		if v.MaterialDescription != "" {
			m["key_material_description"] = v.MaterialDescription
		}
		if v.ExpirationModel != "" {
			m["expiration_model"] = v.ExpirationModel
		}
		if !v.ValidTo.IsZero() {
			m["valid_to"] = v.ValidTo.Format(time.RFC3339)
		}
	}
	return m
}

// rotateToPending makes the newest imported material waiting for rotation
// current (AWS's on-demand rotation of a key with imported material).
func rotateToPending(e *keystore.Key, now time.Time) error {
	cur, _ := e.Latest()
	for i := len(e.Versions) - 1; i >= 0; i-- {
		kv := &e.Versions[i]
		if kv.Version <= cur {
			break
		}
		if len(kv.Material) == 0 {
			continue // released
		}
		kv.RotationType, kv.RotatedAt = keystore.RotationOnDemand, now
		e.CurrentVersion = kv.Version
		if e.State == keystore.StatePendingImport {
			e.State = keystore.StateEnabled
		}
		e.SyncCurrentExpiry()
		return nil
	}
	return kmserr.New(kmserr.InvalidState, "key '%s' has no imported key material pending rotation; import new key material (import_type %s) first", e.KeyID, importNewMaterial)
}

func versionName(v uint32) string {
	s := strconv.FormatUint(uint64(v), 10)
	for len(s) < 10 {
		s = "0" + s
	}
	return s
}

const pathRotationHelp = `
Symmetric keys with key material from the plugin rotate: write
keys/<key>/rotation (rotation_period_days 90..2560, default 365) to rotate
automatically, delete it to stop, read it for the status and next date.
Write keys/<key>/rotate to rotate now (at most 25 times per key, then
LimitExceededException). Old versions keep decrypting; new encryptions use
the newest; re-encrypt moves ciphertext to the newest. A disabled key does
not rotate; when enabled again, an overdue key rotates at the next periodic
run. Asymmetric, HMAC and imported keys do not rotate
(UnsupportedOperationException).
`
