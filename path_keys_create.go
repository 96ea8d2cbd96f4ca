package kms

import (
	"context"

	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/awspolicy"
	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/internal/tokenkeys"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// createRequest is CreateKey's decoded, validated fields.
type createRequest struct {
	spec      *keyspec.Spec
	usage     keyspec.KeyUsage
	origin    string
	desc      string
	tags      map[string]string
	alias     string
	policyDoc string
	policy    *awspolicy.Policy
	// store is the custom key store of a key whose material is made in
	// its token (origin AWS_CLOUDHSM).
	store string
}

// pathKeyCreate is CreateKey: decode, check the policy would not lock the
// caller out, make the key (and its material), store it with its alias.
func (b *backend) pathKeyCreate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := decodeCreate(d)
	if err != nil {
		return nil, err
	}
	if r.policy != nil {
		bypass := d.Get("bypass_policy_lockout_safety_check").(bool)
		probe := &keystore.Key{KeySpec: r.spec.Name, KeyUsage: r.usage, Origin: r.origin}
		if err := b.checkLockout(withAttrs(ctx, func(a *requestAttrs) { a.BypassLockout = &bypass }), req, r.policy, probe, bypass); err != nil {
			return nil, err
		}
	}
	if r.store != "" {
		// Token connections are open on the active node: a performance
		// standby forwards. Elsewhere a store that is missing or not
		// connected is refused before anything is written.
		if !b.WriteSafeReplicationState() {
			return nil, logical.ErrReadOnly
		}
		if _, err := b.tokens.StoreToken(ctx, req.Storage, r.store); err != nil {
			return nil, tokenkeys.Refusal(err)
		}
	}
	e, err := b.newKey(r)
	if err != nil {
		return nil, err
	}
	unlock := b.keys.Lock(e.KeyID)
	defer unlock()
	var alias *keystore.Alias
	if r.alias != "" {
		// Hold the alias lock across the writes so the name cannot be
		// taken between the check and the alias write.
		b.aliasLock.Lock()
		defer b.aliasLock.Unlock()
		if err := b.keys.AliasFree(ctx, req.Storage, r.alias); err != nil {
			return nil, err
		}
		now := e.CreationDate
		alias = &keystore.Alias{Name: r.alias, TargetKeyID: e.KeyID, CreatedAt: now, UpdatedAt: now}
	}
	switch {
	case e.InHSM():
		err = b.tokens.Create(ctx, req.Storage, e, alias)
	case alias == nil:
		// Tags and policy live in the key entry: one write.
		err = b.keys.Put(ctx, req.Storage, e)
	default:
		err = b.keys.CreateWithAlias(ctx, req.Storage, e, alias)
	}
	if err != nil {
		return nil, err
	}
	return b.keyResponse(ctx, req.Storage, e)
}

// decodeCreate reads and validates CreateKey's fields.
func decodeCreate(d *framework.FieldData) (*createRequest, error) {
	spec, ok := keyspec.Lookup(d.Get("key_spec").(string))
	if !ok {
		return nil, kmserr.Validationf("key_spec must be one of %s", keyspec.OneOf(keyspec.Names()))
	}
	r := &createRequest{spec: spec, usage: spec.DefaultUsage(), desc: d.Get("description").(string),
		tags: d.Get("tags").(map[string]string), alias: d.Get("alias").(string), policyDoc: d.Get("policy").(string)}
	if u := d.Get("key_usage").(string); u != "" {
		if r.usage, ok = keyspec.ParseUsage(u); !ok {
			return nil, kmserr.Validationf("key_usage must be one of %s", usageNames())
		}
		if !spec.Allows(r.usage) {
			return nil, kmserr.Validationf("%s", spec.UsageError(r.usage))
		}
	}
	var err error
	if r.origin, r.store, err = createOrigin(d, spec, r.usage); err != nil {
		return nil, err
	}
	if len(r.desc) > keyspec.MaxDescription {
		return nil, kmserr.Validationf("description is longer than %d characters", keyspec.MaxDescription)
	}
	if err := validateTags(r.tags, 0); err != nil {
		return nil, err
	}
	if r.policyDoc != "" {
		if r.policy, err = access.ParsePolicy(r.policyDoc); err != nil {
			return nil, err
		}
	}
	if r.alias != "" {
		if err := validateAliasName(r.alias); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// newKey makes the entry of a new key, with its first material unless the
// material is to be imported.
func (b *backend) newKey(r *createRequest) (*keystore.Key, error) {
	id, err := uuid.GenerateUUID()
	if err != nil {
		return nil, err
	}
	now := b.now().UTC()
	e := &keystore.Key{
		KeyID: id, Description: r.desc, KeySpec: r.spec.Name, KeyUsage: r.usage, Origin: r.origin,
		State: keystore.StateEnabled, CreationDate: now, Tags: r.tags,
	}
	e.SetSpec(r.spec)
	if r.policy != nil {
		e.SetPolicy(r.policyDoc, r.policy)
	}
	if r.origin == keystore.OriginExternal {
		e.State = keystore.StatePendingImport
		return e, nil
	}
	if r.store != "" {
		// The material is made in the token (tokenkeys.Keys.Create): the entry
		// holds only the object's label.
		e.CustomKeyStoreID = r.store
		e.AddHSMVersion(keystore.HSMObjectLabel(id, 1), now)
		return e, nil
	}
	material, err := r.spec.Generate(b.random)
	if err != nil {
		return nil, err
	}
	if err := e.AddVersion(material, now); err != nil {
		return nil, err
	}
	return e, nil
}

// createOrigin is CreateKey's origin and custom key store. A key in a
// custom key store (custom_key_store_id, origin AWS_CLOUDHSM, implied by
// the store) is a SYMMETRIC_DEFAULT encryption key, as in AWS.
func createOrigin(d *framework.FieldData, spec *keyspec.Spec, usage keyspec.KeyUsage) (origin, store string, err error) {
	origin = d.Get("origin").(string)
	rawStore, hasStore := d.GetOk("custom_key_store_id")
	if hasStore || origin == keystore.OriginCloudHSM {
		return storeOrigin(d, spec, usage, rawStore, hasStore)
	}
	switch origin {
	case keystore.OriginAWSKMS:
	case keystore.OriginExternal:
		if !spec.Importable() {
			return "", "", kmserr.Unsupportedf("key material cannot be imported for %s keys", spec.Name)
		}
	default:
		return "", "", kmserr.Validationf("origin must be AWS_KMS, EXTERNAL or AWS_CLOUDHSM")
	}
	return origin, "", nil
}

func storeOrigin(d *framework.FieldData, spec *keyspec.Spec, usage keyspec.KeyUsage, rawStore any, hasStore bool) (string, string, error) {
	if !hasStore {
		return "", "", kmserr.Validationf("origin AWS_CLOUDHSM needs custom_key_store_id")
	}
	if o, given := d.GetOk("origin"); given && o.(string) != keystore.OriginCloudHSM {
		return "", "", kmserr.Validationf("a key in a custom key store has origin AWS_CLOUDHSM")
	}
	store := rawStore.(string)
	if !customkeystore.ValidID(store) {
		return "", "", kmserr.Validationf("custom_key_store_id is not a custom key store id")
	}
	if spec.Name != keyspec.SymmetricDefault || usage != keyspec.EncryptDecrypt {
		return "", "", kmserr.Unsupportedf("a key in a custom key store must be a SYMMETRIC_DEFAULT key with key usage ENCRYPT_DECRYPT")
	}
	return keystore.OriginCloudHSM, store, nil
}
