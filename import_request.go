package kms

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Import states and options, as AWS names them.
const (
	importImported = "IMPORTED"
	importPending  = "PENDING_IMPORT"

	importNewMaterial      = "NEW_KEY_MATERIAL"
	importExistingMaterial = "EXISTING_KEY_MATERIAL"

	includeAllMaterial   = "ALL_KEY_MATERIAL"
	includeRotationsOnly = "ROTATIONS_ONLY"

	// AWS's limit on KeyMaterialDescription.
	maxMaterialDescription = 256
)

// The request fields of GetParametersForImport and ImportKeyMaterial,
// checked before the handlers use them.

// checkWrapping checks GetParametersForImport's wrapping key spec and
// algorithm.
func checkWrapping(specName, alg string) error {
	switch {
	case !keyspec.Contains(keyspec.WrappingKeySpecs(), specName):
		return kmserr.Validationf("wrapping_key_spec must be one of %s", keyspec.OneOf(keyspec.WrappingKeySpecs()))
	case !keyspec.Contains(keyspec.WrappingAlgorithms(), alg):
		return kmserr.Validationf("wrapping_algorithm must be one of %s", keyspec.OneOf(keyspec.WrappingAlgorithms()))
	case !keyspec.WrappingPairOK(specName, alg):
		return kmserr.Validationf("wrapping_algorithm %s does not go with wrapping_key_spec %s: SM2PKE needs SM2, the RSA algorithms an RSA key", alg, specName)
	}
	return nil
}

// maxValidTo is how far ahead imported key material may expire: AWS's
// ImportKeyMaterial reference, "The maximum value is 365 days from the
// request date".
const maxValidTo = 365 * 24 * time.Hour

// importRequest reads ImportKeyMaterial's material, token and expiration.
func (b *backend) importRequest(d *framework.FieldData) (wrapped []byte, token, model string, validTo time.Time, err error) {
	if wrapped, err = b64(d, "encrypted_key_material", true); err != nil {
		return
	}
	if token = d.Get("import_token").(string); token == "" {
		err = kmserr.Validationf("import_token is required")
		return
	}
	switch model = d.Get("expiration_model").(string); model {
	case keystore.ExpirationDoesNotExpire:
		if d.Get("valid_to").(string) != "" {
			err = kmserr.Validationf("valid_to is only allowed with KEY_MATERIAL_EXPIRES")
		}
	case keystore.ExpirationExpires:
		now := b.now()
		switch validTo, err = time.Parse(time.RFC3339, d.Get("valid_to").(string)); {
		case err != nil:
			err = kmserr.Validationf("valid_to must be an RFC 3339 time with KEY_MATERIAL_EXPIRES")
		case !validTo.After(now):
			err = kmserr.Validationf("valid_to must be in the future")
		case validTo.After(now.Add(maxValidTo)):
			err = kmserr.Validationf("valid_to must be at most 365 days after the request")
		}
	default:
		err = kmserr.Validationf("expiration_model must be KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE")
	}
	return
}

// importOptions are the several-materials fields of an import.
type importOptions struct {
	importType, materialID, description string
	described                           bool
}

func readImportOptions(d *framework.FieldData) (importOptions, error) {
	o := importOptions{importType: d.Get("import_type").(string), materialID: d.Get("key_material_id").(string)}
	raw, described := d.GetOk("key_material_description")
	if described {
		o.description, o.described = raw.(string), true
	}
	switch o.importType {
	case "", importNewMaterial, importExistingMaterial:
	default:
		return o, kmserr.Validationf("import_type must be %s or %s", importNewMaterial, importExistingMaterial)
	}
	if o.materialID != "" {
		if o.importType == importNewMaterial {
			return o, kmserr.Validationf("key_material_id cannot be given with import_type %s: new material gets its id on import", importNewMaterial)
		}
		if err := checkMaterialID(o.materialID); err != nil {
			return o, err
		}
	}
	if len(o.description) > maxMaterialDescription {
		return o, kmserr.Validationf("key_material_description is longer than %d characters", maxMaterialDescription)
	}
	return o, nil
}

// checkMaterialID refuses what cannot be a key material id.
func checkMaterialID(id string) error {
	if len(id) != 64 {
		return kmserr.Validationf("key_material_id must be 64 hexadecimal characters")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return kmserr.Validationf("key_material_id must be 64 hexadecimal characters")
	}
	return nil
}

func (b *backend) expireImportedMaterial(ctx context.Context, s logical.Storage) error {
	return b.keys.ExpireImportedMaterial(ctx, s)
}
