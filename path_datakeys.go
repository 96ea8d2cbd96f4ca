package kms

import (
	"context"
	"encoding/pem"
	"io"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Data keys come in two forms on two paths, plaintext and wrapped, so that
// a Vault ACL can allow one and not the other (as Transit's datakey paths).
func pathDataKeys(b *backend) []*framework.Path {
	dataKeyFields := map[string]*framework.FieldSchema{
		"key_spec":           {Type: framework.TypeString, Description: "AES_128 or AES_256; give this or number_of_bytes."},
		"number_of_bytes":    {Type: framework.TypeInt, Description: "Data key length, 1..1024 bytes; give this or key_spec."},
		"encryption_context": fieldEncryptionContext,
		"grant_tokens":       fieldGrantTokens,
		"dry_run":            fieldDryRun,
	}
	pairFields := map[string]*framework.FieldSchema{
		"key_pair_spec":      {Type: framework.TypeString, Description: "Key pair spec: " + keyspec.OneOf(keyspec.DataKeyPairSpecs()) + "."},
		"encryption_context": fieldEncryptionContext,
		"grant_tokens":       fieldGrantTokens,
		"dry_run":            fieldDryRun,
	}
	path := func(pattern, verb, summary, help string, fields map[string]*framework.FieldSchema, h framework.OperationFunc) *framework.Path {
		return &framework.Path{
			Pattern:      pattern + keyRef + "$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: verb},
			Fields:       withKey(fields),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: dryRunnable(h), Summary: summary},
			},
			HelpSynopsis:    summary,
			HelpDescription: help,
		}
	}
	return []*framework.Path{
		path("data-key/plaintext/", "generate-data-key", "Generate a data key, returned in plaintext and wrapped (GenerateDataKey).",
			pathDataKeyHelp, dataKeyFields, b.dataKeyHandler(keyspec.OpGenerateDataKey, true)),
		path("data-key/wrapped/", "generate-data-key-without-plaintext", "Generate a data key, returned only wrapped (GenerateDataKeyWithoutPlaintext).",
			pathDataKeyHelp, dataKeyFields, b.dataKeyHandler(keyspec.OpGenerateDataKeyWP, false)),
		path("data-key-pair/plaintext/", "generate-data-key-pair", "Generate a key pair with its private key in plaintext and wrapped (GenerateDataKeyPair).",
			pathDataKeyPairHelp, pairFields, b.dataKeyPairHandler(keyspec.OpGenerateDataKeyPair, true)),
		path("data-key-pair/wrapped/", "generate-data-key-pair-without-plaintext", "Generate a key pair with its private key only wrapped (GenerateDataKeyPairWithoutPlaintext).",
			pathDataKeyPairHelp, pairFields, b.dataKeyPairHandler(keyspec.OpGenerateDataKeyPairWP, false)),
	}
}

// wrappingKey resolves the KMS key that wraps data keys: a symmetric
// ENCRYPT_DECRYPT key in the Enabled state.
func (b *backend) wrappingKey(ctx context.Context, req *logical.Request, d *framework.FieldData, op string) (*keystore.Key, map[string]string, error) {
	ref := d.Get("key_id").(string)
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, nil, b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	ec, err := encryptionContext(d, "encryption_context")
	if err != nil {
		return nil, nil, b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	e, err := b.usableKey(ctx, req, ref, op, keyspec.EncryptDecrypt, ec, tokens)
	if err != nil {
		return nil, nil, err
	}
	if e.Spec().Family != keyspec.FamilySymmetric {
		return nil, nil, kmserr.New(kmserr.InvalidKeyUsage, "%s needs a SYMMETRIC_DEFAULT key; key '%s' is %s", op, e.KeyID, e.KeySpec)
	}
	return e, ec, nil
}

func (b *backend) dataKeyHandler(op string, withPlaintext bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		size, err := dataKeySize(d)
		if err != nil {
			return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), true, op, err)
		}
		e, ec, err := b.wrappingKey(ctx, req, d, op)
		if err != nil {
			return nil, err
		}
		key := make([]byte, size)
		if _, err := io.ReadFull(b.random, key); err != nil {
			return nil, err
		}
		blob, err := b.encryptWith(ctx, req.Storage, e, keyspec.AlgSymmetricDefault, key, ec)
		if err != nil {
			return nil, err
		}
		data := map[string]any{"ciphertext_blob": enc64(blob), "key_id": e.KeyID}
		if withPlaintext {
			data["plaintext"] = enc64(key)
		}
		id, err := b.blobMaterialID(ctx, req.Storage, e, keyspec.AlgSymmetricDefault, blob)
		if data, err = withMaterialID(data, "key_material_id", id, err); err != nil {
			return nil, err
		}
		return &logical.Response{Data: data}, nil
	}
}

func (b *backend) dataKeyPairHandler(op string, withPlaintext bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		name := d.Get("key_pair_spec").(string)
		spec, ok := keyspec.Lookup(name)
		if !ok || !spec.KeyPair {
			return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), true, op,
				kmserr.Validationf("key_pair_spec must be one of %s", keyspec.OneOf(keyspec.DataKeyPairSpecs())))
		}
		e, ec, err := b.wrappingKey(ctx, req, d, op)
		if err != nil {
			return nil, err
		}
		if _, err := b.config(ctx, req.Storage); err != nil {
			return nil, err
		}
		if e.InHSM() {
			// A key at its encryption bound refuses before a pair is taken
			// or made, and a dry run checks the bound too.
			if err := b.keys.EncryptionAllowed(ctx, req.Storage, e.KeyID); err != nil {
				return nil, err
			}
		}
		if err := awsapi.DryRunStop(ctx); err != nil {
			return nil, err // a dry run takes no pair from the pool
		}
		pair, err := b.pool.Get(spec)
		if err != nil {
			return nil, err
		}
		private, err := pair.PrivateKeyPKCS8()
		if err != nil {
			return nil, err
		}
		public, err := pair.PublicKeyDER()
		if err != nil {
			return nil, err
		}
		blob, err := b.encryptWith(ctx, req.Storage, e, keyspec.AlgSymmetricDefault, private, ec)
		if err != nil {
			return nil, err
		}
		data := map[string]any{
			"key_id":                      e.KeyID,
			"key_pair_spec":               spec.Name,
			"public_key":                  enc64(public),
			"public_key_pem":              string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public})),
			"private_key_ciphertext_blob": enc64(blob),
		}
		if withPlaintext {
			data["private_key_plaintext"] = enc64(private)
			data["private_key_pem"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: private}))
		}
		id, err := b.blobMaterialID(ctx, req.Storage, e, keyspec.AlgSymmetricDefault, blob)
		if data, err = withMaterialID(data, "key_material_id", id, err); err != nil {
			return nil, err
		}
		return &logical.Response{Data: data}, nil
	}
}

const pathDataKeyHelp = `
Generates a random data key for client-side envelope encryption and wraps
it under the named SYMMETRIC_DEFAULT key, bound to encryption_context. Give
exactly one of key_spec (AES_128, AES_256) and number_of_bytes (1..1024).
The plaintext path returns the key and its ciphertext_blob; the wrapped path
returns only the ciphertext_blob, which decrypt opens later.
`

const pathDataKeyPairHelp = `
Generates an asymmetric key pair for use outside Vault and wraps its private
key (PKCS#8 DER) under the named SYMMETRIC_DEFAULT key, bound to
encryption_context. Returns public_key (SubjectPublicKeyInfo DER, base64)
and public_key_pem, private_key_ciphertext_blob (decrypt opens it), and on
the plaintext path private_key_plaintext (PKCS#8 DER, base64) and
private_key_pem. key_pair_spec: RSA_2048/3072/4096, ECC_NIST_P256/P384/P521,
ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, ML_KEM_512/768/1024 (PKCS#8 in
seed form).
`

// dataKeySize is the data key length a request asks for.
func dataKeySize(d *framework.FieldData) (int, error) {
	spec, specOK := d.GetOk("key_spec")
	n, nOK := d.GetOk("number_of_bytes")
	switch {
	case specOK == nOK:
		return 0, kmserr.Validationf("give exactly one of key_spec (AES_128, AES_256) and number_of_bytes")
	case specOK:
		size, ok := keyspec.DataKeySpecs[spec.(string)]
		if !ok {
			return 0, kmserr.Validationf("key_spec must be AES_128 or AES_256")
		}
		return size, nil
	}
	if size := n.(int); size >= 1 && size <= keyspec.MaxRandom {
		return size, nil
	}
	return 0, kmserr.Validationf("number_of_bytes must be between 1 and %d", keyspec.MaxRandom)
}
