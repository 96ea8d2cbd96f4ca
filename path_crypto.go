package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathCrypto(b *backend) []*framework.Path {
	encAlg := &framework.FieldSchema{Type: framework.TypeString, Default: keyspec.AlgSymmetricDefault,
		Description: "SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256."}
	blob := &framework.FieldSchema{Type: framework.TypeString, Description: "Ciphertext blob, base64."}
	decryptFields := map[string]*framework.FieldSchema{
		"dry_run_modifiers":    fieldDryRunModifiers,
		"ciphertext_blob":      blob,
		"encryption_context":   fieldEncryptionContext,
		"encryption_algorithm": encAlg,
	}
	decrypt := cryptoPath("decrypt/"+keyRef, "decrypt", "Decrypt a ciphertext blob (Decrypt).", pathDecryptHelp, decryptFields, b.decrypt)
	decrypt.DisplayAttrs.OperationSuffix = "with-key"
	// decrypt without a key in the path: symmetric blobs name their key.
	bare := cryptoPath("decrypt$", "decrypt", "Decrypt a ciphertext blob (Decrypt).", pathDecryptHelp, decryptFields, b.decrypt)
	bare.Fields["key_id"] = &framework.FieldSchema{Type: framework.TypeString,
		Description: "Optional key (id, ARN, alias): required for RSA ciphertext; for symmetric ciphertext it must be the blob's key."}
	return []*framework.Path{
		cryptoPath("encrypt/"+keyRef, "encrypt", "Encrypt up to 4096 bytes (Encrypt).", pathEncryptHelp,
			map[string]*framework.FieldSchema{
				"plaintext":            {Type: framework.TypeString, Description: "Plaintext, base64 (1..4096 bytes; less for RSA OAEP)."},
				"encryption_context":   fieldEncryptionContext,
				"encryption_algorithm": encAlg,
			}, b.encrypt),
		bare,
		decrypt,
		cryptoPath("re-encrypt/"+keyRef, "re-encrypt", "Decrypt and encrypt again under the destination key in the path (ReEncrypt).", pathReEncryptHelp,
			map[string]*framework.FieldSchema{
				"dry_run_modifiers":                fieldDryRunModifiers,
				"ciphertext_blob":                  blob,
				"source_key_id":                    {Type: framework.TypeString, Description: "Source key; required for RSA ciphertext."},
				"source_encryption_context":        fieldEncryptionContext,
				"source_encryption_algorithm":      encAlg,
				"destination_encryption_context":   fieldEncryptionContext,
				"destination_encryption_algorithm": encAlg,
			}, b.reEncrypt),
	}
}

func (b *backend) encrypt(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	ref := d.Get("key_id").(string)
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, ref, true, keyspec.OpEncrypt, err)
	}
	pt, err := b64(d, "plaintext", true)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, ref, true, keyspec.OpEncrypt, err)
	}
	ec, err := encryptionContext(d, "encryption_context")
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, ref, true, keyspec.OpEncrypt, err)
	}
	e, err := b.usableKey(ctx, req, ref, keyspec.OpEncrypt, keyspec.EncryptDecrypt, ec, tokens)
	if err != nil {
		return nil, err
	}
	alg := d.Get("encryption_algorithm").(string)
	ct, err := b.encryptWith(ctx, req.Storage, e, alg, pt, ec)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ciphertext_blob": enc64(ct), "key_id": e.KeyID, "encryption_algorithm": alg}, nil
}

func (b *backend) decrypt(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	blob, err := b64(d, "ciphertext_blob", true)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), true, keyspec.OpDecrypt, err)
	}
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, blobKeyRef(d, blob), true, keyspec.OpDecrypt, err)
	}
	ec, err := encryptionContext(d, "encryption_context")
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, blobKeyRef(d, blob), true, keyspec.OpDecrypt, err)
	}
	alg := d.Get("encryption_algorithm").(string)
	e, pt, err := b.decryptWith(ctx, req, d.Get("key_id").(string), alg, blob, ec, keyspec.OpDecrypt, tokens)
	if err != nil {
		return nil, err
	}
	id, err := b.blobMaterialID(ctx, req.Storage, e, alg, blob)
	return withMaterialID(map[string]any{"plaintext": enc64(pt), "key_id": e.KeyID, "encryption_algorithm": alg}, "key_material_id", id, err)
}

func (b *backend) reEncrypt(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	dstRef, srcRef := d.Get("key_id").(string), d.Get("source_key_id").(string)
	invalid := func(err error) error { return b.refuseInvalid(ctx, req, dstRef, true, keyspec.OpReEncryptTo, err) }
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, invalid(err)
	}
	blob, err := b64(d, "ciphertext_blob", true)
	if err != nil {
		return nil, invalid(err)
	}
	srcEC, err := encryptionContext(d, "source_encryption_context")
	if err != nil {
		return nil, invalid(err)
	}
	dstEC, err := encryptionContext(d, "destination_encryption_context")
	if err != nil {
		return nil, invalid(err)
	}
	srcAlg := d.Get("source_encryption_algorithm").(string)
	dstAlg := d.Get("destination_encryption_algorithm").(string)
	ctx = b.reEncryptAttrs(ctx, req.Storage, srcRef, dstRef, blob)
	dst, err := b.usableKey(withAttrs(ctx, func(a *requestAttrs) { a.RequestAlias = requestAlias(dstRef) }),
		req, dstRef, keyspec.OpReEncryptTo, keyspec.EncryptDecrypt, dstEC, tokens)
	if err != nil {
		return nil, err
	}
	src, pt, err := b.decryptWith(withAttrs(ctx, func(a *requestAttrs) { a.RequestAlias = requestAlias(srcRef) }),
		req, srcRef, srcAlg, blob, srcEC, keyspec.OpReEncryptFrom, tokens)
	if err != nil {
		return nil, err
	}
	ct, err := b.encryptWith(ctx, req.Storage, dst, dstAlg, pt, dstEC)
	if err != nil {
		return nil, err
	}
	data := map[string]any{
		"ciphertext_blob": enc64(ct), "key_id": dst.KeyID, "source_key_id": src.KeyID,
		"source_encryption_algorithm": srcAlg, "destination_encryption_algorithm": dstAlg,
	}
	srcID, err := b.blobMaterialID(ctx, req.Storage, src, srcAlg, blob)
	if data, err = withMaterialID(data, "source_key_material_id", srcID, err); err != nil {
		return nil, err
	}
	dstID, err := b.blobMaterialID(ctx, req.Storage, dst, dstAlg, ct)
	return withMaterialID(data, "destination_key_material_id", dstID, err)
}

// reEncryptAttrs answers kms:ReEncryptOnSameKey for both of ReEncrypt's
// authorizations: the source key is known before either runs, from
// source_key_id or the symmetric blob's header. When either key cannot be
// resolved the key is left absent; the real resolution then fails anyway.
func (b *backend) reEncryptAttrs(ctx context.Context, s logical.Storage, srcRef, dstRef string, blob []byte) context.Context {
	dst, err := b.resolveKey(ctx, s, dstRef, true)
	if err != nil {
		return ctx
	}
	srcID := ""
	if srcRef != "" {
		src, err := b.resolveKey(ctx, s, srcRef, true)
		if err != nil {
			return ctx
		}
		srcID = src.KeyID
	} else if hdr, err := ciphertext.Parse(blob); err == nil {
		srcID = hdr.KeyID
	} else {
		return ctx
	}
	same := srcID == dst.KeyID
	return withAttrs(ctx, func(a *requestAttrs) { a.ReEncryptOnSameKey = &same })
}

const pathEncryptHelp = `
Encrypts plaintext (base64, 1..4096 bytes) under the key in the path. With a
SYMMETRIC_DEFAULT key the result is this plugin's ciphertext blob (AES-256-GCM,
bound to the key, its material version and the encryption context). With an
RSA ENCRYPT_DECRYPT key, pass encryption_algorithm RSAES_OAEP_SHA_1 or
RSAES_OAEP_SHA_256; the result is raw OAEP output that any library can
produce, and the plaintext limit is AWS's (RSA_2048: 214/190 bytes).
`

const pathDecryptHelp = `
Decrypts a ciphertext blob. A symmetric blob names its key, so the key may be
omitted (write to decrypt); if one is given it must be the blob's key
(IncorrectKeyException otherwise). RSA ciphertext needs the key and the
encryption_algorithm. The encryption context must equal the one used to
encrypt; any mismatch or damage is an InvalidCiphertextException.
`

const pathReEncryptHelp = `
Decrypts ciphertext_blob under its source key (from the blob, or
source_key_id, required for RSA) with the source context and algorithm, and
encrypts the plaintext under the destination key in the path, all inside
the plugin: the plaintext is never returned. Re-encrypting under the same
key moves ciphertext to the key's newest material.
`

// blobKeyRef is the key a decrypt names: key_id, or else the key in a
// symmetric blob's header ("" when neither names one).
func blobKeyRef(d *framework.FieldData, blob []byte) string {
	if ref := d.Get("key_id").(string); ref != "" {
		return ref
	}
	if hdr, err := ciphertext.Parse(blob); err == nil {
		return hdr.KeyID
	}
	return ""
}
