package kms

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// importEntry is the state of GetParametersForImport: the private half of
// the wrapping key, bound to one key and one import token.
type importEntry struct {
	TokenID     string    `json:"token_id"`
	WrappingKey []byte    `json:"wrapping_key"` // PKCS#8
	KeySpec     string    `json:"wrapping_key_spec"`
	Algorithm   string    `json:"wrapping_algorithm"`
	ValidTo     time.Time `json:"valid_to"`
}

func pathImport(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "keys/" + keyIDRef + "/import-parameters$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "get", OperationSuffix: "import-parameters"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"wrapping_key_spec":  {Type: framework.TypeString, Default: keyspec.RSA2048, Description: "RSA_2048, RSA_3072, RSA_4096 or SM2 (with wrapping_algorithm SM2PKE)."},
				"wrapping_algorithm": {Type: framework.TypeString, Default: keyspec.WrapRSAESOAEPSHA256, Description: keyspec.OneOf(keyspec.WrappingAlgorithms()) + "."},
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathImportParameters, Summary: "Get a wrapping key and import token (GetParametersForImport)."},
			},
			HelpSynopsis:    "Get the parameters to import key material.",
			HelpDescription: pathImportHelp,
		},
		{
			Pattern:      "keys/" + keyIDRef + "/import$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "key-material"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"encrypted_key_material":   {Type: framework.TypeString, Description: "Key material wrapped with the wrapping key, base64."},
				"import_token":             {Type: framework.TypeString, Description: "The import token of the same GetParametersForImport."},
				"expiration_model":         {Type: framework.TypeString, Default: keystore.ExpirationDoesNotExpire, Description: "KEY_MATERIAL_EXPIRES (with valid_to) or KEY_MATERIAL_DOES_NOT_EXPIRE."},
				"valid_to":                 {Type: framework.TypeString, Description: "When the material expires (RFC 3339), with KEY_MATERIAL_EXPIRES."},
				"import_type":              fieldImportType,
				"key_material_id":          fieldKeyMaterialID,
				"key_material_description": fieldKeyMaterialDescription,
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathImportMaterial, Summary: "Import key material (ImportKeyMaterial).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "import"}},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.pathDeleteImported, Summary: "Delete imported key material (DeleteImportedKeyMaterial).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "delete"}},
			},
			HelpSynopsis:    "Import, or delete, a key's key material.",
			HelpDescription: pathImportHelp,
		},
	}
}

func requireExternal(e *keystore.Key) error {
	if e.Origin != keystore.OriginExternal {
		return kmserr.Unsupportedf("key '%s' has origin %s; only keys created with origin EXTERNAL take imported key material", e.KeyID, e.Origin)
	}
	return nil
}

func (b *backend) pathImportParameters(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	specName, alg := d.Get("wrapping_key_spec").(string), d.Get("wrapping_algorithm").(string)
	if err := checkWrapping(specName, alg); err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpGetParametersForImport, err)
	}
	spec, _ := keyspec.Lookup(specName)
	var (
		pub   []byte
		ie    *importEntry
		token string
	)
	// The wrapping key (up to a second of CPU for RSA_4096) is generated
	// only once the key is resolved, the caller authorized and the state
	// checked: an unknown key or a denied caller costs nothing.
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpGetParametersForImport, func(e *keystore.Key) error {
		if err := requireExternal(e); err != nil {
			return err
		}
		wrapping, err := spec.Generate(b.random)
		if err != nil {
			return err
		}
		priv, err := wrapping.Marshal()
		if err != nil {
			return err
		}
		if pub, err = wrapping.PublicKeyDER(); err != nil {
			return err
		}
		tokenID := make([]byte, 16)
		if _, err := io.ReadFull(b.random, tokenID); err != nil {
			return err
		}
		ie = &importEntry{TokenID: hex.EncodeToString(tokenID), WrappingKey: priv, KeySpec: specName, Algorithm: alg,
			ValidTo: b.now().UTC().Add(keyspec.ImportTokenValidityHours * time.Hour)}
		// A newer request replaces the older parameters: their token stops working.
		entry, err := logical.StorageEntryJSON(keystore.ImportPrefix+e.KeyID, ie)
		if err != nil {
			return err
		}
		if err := req.Storage.Put(ctx, entry); err != nil {
			return err
		}
		key, err := b.tokenKey(ctx, req.Storage)
		if err != nil {
			return err
		}
		raw := "i1." + e.KeyID + "." + ie.TokenID + "." + tokenMAC(key, purposeImportToken, e.KeyID, ie.TokenID)
		token = base64.RawURLEncoding.EncodeToString([]byte(raw))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		"key_id": e.KeyID, "public_key": enc64(pub), "import_token": token,
		"parameters_valid_to": ie.ValidTo.Format(time.RFC3339), "wrapping_key_spec": specName, "wrapping_algorithm": alg,
	}}, nil
}

// checkImportToken returns the import parameters the token names, if it is
// this key's current, unexpired token.
func (b *backend) checkImportToken(ctx context.Context, s logical.Storage, keyID, token string) (*importEntry, error) {
	invalid := kmserr.New(kmserr.InvalidImportToken, "the import token is not valid for key '%s'", keyID)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, invalid
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != "i1" || parts[1] != keyID {
		return nil, invalid
	}
	key, err := b.tokenKey(ctx, s)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(parts[3]), []byte(tokenMAC(key, purposeImportToken, keyID, parts[2]))) {
		return nil, invalid
	}
	stored, err := s.Get(ctx, keystore.ImportPrefix+keyID)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, invalid
	}
	ie := &importEntry{}
	if err := stored.DecodeJSON(ie); err != nil {
		return nil, err
	}
	if ie.TokenID != parts[2] {
		return nil, kmserr.New(kmserr.InvalidImportToken, "the import token was replaced by newer import parameters for key '%s'", keyID)
	}
	if !b.now().Before(ie.ValidTo) {
		return nil, kmserr.New(kmserr.ExpiredImportToken, "the import token for key '%s' expired at %s", keyID, ie.ValidTo.Format(time.RFC3339))
	}
	return ie, nil
}

func (b *backend) pathImportMaterial(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	wrapped, token, model, validTo, err := b.importRequest(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpImportKeyMaterial, err)
	}
	opts, err := readImportOptions(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpImportKeyMaterial, err)
	}
	var imported string
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpImportKeyMaterial, func(e *keystore.Key) error {
		if err := requireExternal(e); err != nil {
			return err
		}
		ie, err := b.checkImportToken(ctx, req.Storage, e.KeyID, token)
		if err != nil {
			return err
		}
		wspec, _ := keyspec.Lookup(ie.KeySpec)
		wkey, err := wspec.Parse(ie.WrappingKey)
		if err != nil {
			return err
		}
		material, err := wkey.UnwrapKeyMaterial(ie.Algorithm, wrapped)
		if errors.Is(err, keyspec.ErrUnwrap) {
			return kmserr.New(kmserr.InvalidCiphertext, "the key material could not be unwrapped with the wrapping key of this import token")
		} else if err != nil {
			return mapCryptoErr(err)
		}
		k, err := e.Spec().Parse(material)
		if err != nil {
			return kmserr.New(kmserr.IncorrectKeyMaterial, "the key material is not a %s key", e.KeySpec)
		}
		canonical, err := k.Marshal()
		if err != nil {
			return err
		}
		key, err := b.tokenKey(ctx, req.Storage)
		if err != nil {
			return err
		}
		kv, err := b.placeMaterial(e, opts, keystore.MaterialID(key, e.KeyID, canonical), canonical, k)
		if err != nil {
			return err
		}
		kv.ExpirationModel, kv.ValidTo = model, validTo
		if opts.described {
			kv.MaterialDescription = opts.description
		}
		imported = kv.MaterialID
		if cur, _ := e.Latest(); cur == kv.Version && e.State == keystore.StatePendingImport {
			e.State = keystore.StateEnabled
		}
		e.SyncCurrentExpiry()
		return keystore.PutExpiryIndex(ctx, req.Storage, e)
	})
	if err != nil {
		return nil, err
	}
	resp, err := b.keyResponse(ctx, req.Storage, e)
	if err != nil {
		return nil, err
	}
	resp.Data["key_material_id"] = imported
	return resp, nil
}

// placeMaterial finds or makes the version the imported material goes
// to, following AWS: the first import is NEW_KEY_MATERIAL and current;
// later imports default to EXISTING_KEY_MATERIAL, which must be the
// material the id names (the current one by default); NEW_KEY_MATERIAL on
// a key that has material waits as PENDING_ROTATION (symmetric keys only).
func (b *backend) placeMaterial(e *keystore.Key, o importOptions, id string, canonical []byte, k *keyspec.Key) (*keystore.Version, error) {
	symmetric := e.Spec().Family == keyspec.FamilySymmetric
	if !symmetric && (o.importType != "" || o.materialID != "" || o.described) {
		return nil, kmserr.Validationf("import_type, key_material_id and key_material_description are only for symmetric encryption keys; key '%s' is %s", e.KeyID, e.KeySpec)
	}
	typ := o.importType
	if typ == "" {
		typ = importExistingMaterial
		if len(e.Versions) == 0 {
			typ = importNewMaterial
		}
	}
	if typ == importNewMaterial {
		if prev := e.VersionByMaterialID(id); prev != nil {
			return nil, kmserr.New(kmserr.IncorrectKeyMaterial, "this key material was imported into key '%s' before, as key material %s; import it with %s", e.KeyID, id, importExistingMaterial)
		}
		if len(e.Versions) > 0 && !symmetric {
			return nil, kmserr.New(kmserr.IncorrectKeyMaterial, "key '%s' had different key material; only the same material can be imported again", e.KeyID)
		}
		first := len(e.Versions) == 0
		if err := e.AddVersion(k, b.now().UTC()); err != nil {
			return nil, err
		}
		kv := &e.Versions[len(e.Versions)-1]
		kv.MaterialID = id
		if first {
			e.CurrentVersion = kv.Version
		} else if e.CurrentVersion == 0 {
			// Keep the current material current: the new one waits.
			e.CurrentVersion = e.Versions[len(e.Versions)-2].Version
		}
		return kv, nil
	}
	if len(e.Versions) == 0 {
		return nil, kmserr.New(kmserr.IncorrectKeyMaterial, "key '%s' has no key material yet; import it with %s", e.KeyID, importNewMaterial)
	}
	var target *keystore.Version
	if o.materialID != "" {
		if target = e.VersionByMaterialID(o.materialID); target == nil {
			return nil, kmserr.NotFoundf("key '%s' has no key material %s", e.KeyID, o.materialID)
		}
	} else {
		cur, _ := e.Latest()
		target = e.FindVersion(cur)
	}
	if target.MaterialID != id {
		if o.materialID == "" && !symmetric {
			return nil, kmserr.New(kmserr.IncorrectKeyMaterial, "key '%s' had different key material; only the same material can be imported again", e.KeyID)
		}
		return nil, kmserr.New(kmserr.IncorrectKeyMaterial, "the key material is not key material %s of key '%s'", target.MaterialID, e.KeyID)
	}
	if len(target.Material) == 0 {
		target.Material = canonical
		e.SetParsed(target.Version, k)
	}
	return target, nil
}

func (b *backend) pathDeleteImported(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	want := d.Get("key_material_id").(string)
	if want != "" {
		if err := checkMaterialID(want); err != nil {
			return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), false, keyspec.OpDeleteImportedKeyMaterial, err)
		}
	}
	var deleted string
	e, err := b.modifyKey(ctx, req, d.Get("key_id").(string), keyspec.OpDeleteImportedKeyMaterial, func(e *keystore.Key) error {
		if err := requireExternal(e); err != nil {
			return err
		}
		var kv *keystore.Version
		if want != "" {
			if kv = e.VersionByMaterialID(want); kv == nil {
				return kmserr.NotFoundf("key '%s' has no key material %s", e.KeyID, want)
			}
		} else {
			cur, _ := e.Latest()
			if kv = e.FindVersion(cur); kv == nil {
				// Nothing imported yet: nothing to delete, as before.
				return nil
			}
		}
		deleted = kv.MaterialID
		e.DeleteMaterial(kv)
		return keystore.PutExpiryIndex(ctx, req.Storage, e)
	})
	if err != nil {
		return nil, err
	}
	data := map[string]any{"key_id": e.KeyID}
	if deleted != "" {
		data["key_material_id"] = deleted
	}
	return &logical.Response{Data: data}, nil
}

const pathImportHelp = `
Bring your own key: create a key with origin=EXTERNAL (it starts in
PendingImport), write keys/<key>/import-parameters (wrapping_key_spec
RSA_2048/3072/4096, wrapping_algorithm RSAES_OAEP_SHA_1/256 or
RSA_AES_KEY_WRAP_SHA_1/256; or SM2 with SM2PKE) to get a wrapping public key and an import
token valid 24 hours, wrap your material with it, and write it to
keys/<key>/import with the token (expiration_model KEY_MATERIAL_EXPIRES
with valid_to, or KEY_MATERIAL_DOES_NOT_EXPIRE). Material: 32 bytes for
SYMMETRIC_DEFAULT, the HMAC key size for HMAC keys, PKCS#8 DER for RSA and
ECC keys. DELETE keys/<key>/import deletes the current material (the key
returns to PendingImport), or the one key_material_id names; importing the
same material again restores it (EXISTING_KEY_MATERIAL).

Symmetric keys hold several materials: import_type NEW_KEY_MATERIAL adds
material that waits (PENDING_ROTATION) until keys/<key>/rotate makes it
current; older materials keep decrypting. Each material has a
key_material_id (64 hex characters, derived from the material under a
mount secret); key_material_description labels it.
`
