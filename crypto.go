package kms

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// The internal operations here are shared by the Vault-style paths, the
// batch forms and data keys, so each semantic lives in one place.

// usableKey resolves a key for a cryptographic operation, authorizes the
// caller for op (with the operation's encryption context and grant
// tokens), and checks that the key's state and usage allow op.
func (b *backend) usableKey(ctx context.Context, req *logical.Request, ref, op string, usage keyspec.KeyUsage, ec map[string]string, tokens []string) (*keystore.Key, error) {
	e, err := b.resolveKey(ctx, req.Storage, ref, true)
	if err != nil {
		return nil, err
	}
	return e, b.admit(ctx, req, e, op, usage, ec, tokens)
}

// admit authorizes op on a resolved key, then checks state and usage.
func (b *backend) admit(ctx context.Context, req *logical.Request, e *keystore.Key, op string, usage keyspec.KeyUsage, ec map[string]string, tokens []string) error {
	if err := b.authorize(ctx, req, e, op, ec, tokens); err != nil {
		return err
	}
	if err := keystore.CheckStateAt(e, op, b.now()); err != nil {
		return err
	}
	if e.InHSM() && keystore.IsCryptographic(op) {
		// A cryptographic operation on a key whose store is not connected:
		// the key is Unavailable.
		if _, err := b.tokens.Token(e); err != nil {
			return err
		}
	}
	if err := requireUsage(e, usage, op); err != nil {
		return err
	}
	if !awsapi.IsDryRun(ctx) {
		if err := b.keys.ForwardForUsage(e.KeyID); err != nil {
			return err
		}
		awsapi.NoteUse(ctx, func() { b.keys.RecordUse(ctx, req.Storage, e.KeyID, op, req.ID) })
	}
	return nil
}

func requireUsage(e *keystore.Key, usage keyspec.KeyUsage, op string) error {
	if e.KeyUsage != usage {
		return kmserr.New(kmserr.InvalidKeyUsage, "key '%s' has key usage %s; %s needs %s", e.KeyID, e.KeyUsage, op, usage)
	}
	return nil
}

// requireAlgorithm checks that alg is one the key offers for its usage.
// As in AWS, an algorithm the key's spec does not offer is an
// InvalidKeyUsageException; a name AWS does not define is a
// ValidationException.
func requireAlgorithm(e *keystore.Key, kind, alg string, allowed []string) error {
	switch {
	case keyspec.Contains(allowed, alg):
		return nil
	case keyspec.IsAWSAlgorithm(kind, alg):
		return kmserr.New(kmserr.InvalidKeyUsage, "%s algorithm %s is incompatible with key '%s' (%s); its %s algorithms: %s",
			kind, alg, e.KeyID, e.KeySpec, kind, keyspec.OneOf(allowed))
	}
	return kmserr.Validationf("the %s algorithm is not one of AWS's; valid %s algorithms for key '%s' (%s): %s",
		kind, kind, e.KeyID, e.KeySpec, keyspec.OneOf(allowed))
}

// mapCryptoErr turns keyspec's input errors into ValidationException.
func mapCryptoErr(err error) error {
	var in *keyspec.InputError
	switch {
	case errors.As(err, &in):
		return kmserr.Validationf("%s", in.Msg)
	}
	return err
}

// encryptWith encrypts under the key's newest material.
func (b *backend) encryptWith(ctx context.Context, s logical.Storage, e *keystore.Key, alg string, plaintext []byte, ec map[string]string) ([]byte, error) {
	if err := requireAlgorithm(e, keyspec.KindEncryption, alg, e.Spec().Encryption); err != nil {
		return nil, err
	}
	if len(plaintext) < 1 || len(plaintext) > keyspec.MaxPlaintext {
		return nil, kmserr.Validationf("plaintext must be 1 to %d bytes, got %d", keyspec.MaxPlaintext, len(plaintext))
	}
	if e.InHSM() {
		if awsapi.IsDryRun(ctx) {
			if err := b.tokens.CheckSeal(ctx, s, e); err != nil {
				return nil, err
			}
			return nil, awsapi.DryRunStop(ctx)
		}
		return b.tokens.Seal(ctx, s, e, plaintext, ec)
	}
	v, k := e.Latest()
	if alg == keyspec.AlgSymmetricDefault {
		return ciphertext.Seal(k, e.KeyID, v, ec, plaintext, b.random)
	}
	if len(ec) > 0 {
		return nil, kmserr.Validationf("an encryption context is supported only with symmetric keys")
	}
	ct, err := k.EncryptAsymmetric(alg, plaintext, b.random)
	return ct, mapCryptoErr(err)
}

// decryptWith decrypts a ciphertext blob. ref may be empty for symmetric
// ciphertext, which names its key. Every way a blob can be wrong is an
// InvalidCiphertextException; a blob of another key than ref is an
// IncorrectKeyException.
func (b *backend) decryptWith(ctx context.Context, req *logical.Request, ref, alg string, blob []byte, ec map[string]string, op string, tokens []string) (*keystore.Key, []byte, error) {
	if len(blob) < 1 || len(blob) > keyspec.MaxCiphertext {
		return nil, nil, kmserr.Validationf("ciphertext_blob must be 1 to %d bytes", keyspec.MaxCiphertext)
	}
	if awsapi.IgnoresCiphertext(ctx) {
		return b.decryptAccess(ctx, req, ref, alg, ec, op, tokens)
	}
	if alg == keyspec.AlgSymmetricDefault {
		return b.decryptSymmetric(ctx, req, ref, blob, ec, op, tokens)
	}
	if ref == "" {
		return nil, nil, kmserr.Validationf("key_id is required to decrypt with %s", alg)
	}
	e, err := b.usableKey(ctx, req, ref, op, keyspec.EncryptDecrypt, ec, tokens)
	if err != nil {
		return nil, nil, err
	}
	if err := requireAlgorithm(e, keyspec.KindEncryption, alg, e.Spec().Encryption); err != nil {
		return nil, nil, err
	}
	if len(ec) > 0 {
		return nil, nil, kmserr.Validationf("an encryption context is supported only with symmetric keys")
	}
	_, k := e.Latest()
	pt, err := k.DecryptAsymmetric(alg, blob)
	if errors.Is(err, keyspec.ErrDecrypt) {
		return nil, nil, kmserr.New(kmserr.InvalidCiphertext, "the ciphertext is invalid for key '%s' with %s", e.KeyID, alg)
	}
	return e, pt, mapCryptoErr(err)
}

// decryptAccess is a dry run's decrypt that ignores the ciphertext: the
// key named in the request is checked as a decrypt would check it. One
// placeholder byte stands for the unknown plaintext, so that a ReEncrypt
// still checks its destination.
func (b *backend) decryptAccess(ctx context.Context, req *logical.Request, ref, alg string, ec map[string]string, op string, tokens []string) (*keystore.Key, []byte, error) {
	if ref == "" {
		return nil, nil, kmserr.Validationf("a dry run that ignores the ciphertext needs the key: give key_id (source_key_id for a re-encrypt)")
	}
	e, err := b.usableKey(ctx, req, ref, op, keyspec.EncryptDecrypt, ec, tokens)
	if err != nil {
		return nil, nil, err
	}
	if err := requireAlgorithm(e, keyspec.KindEncryption, alg, e.Spec().Encryption); err != nil {
		return nil, nil, err
	}
	return e, []byte{0}, nil
}

func (b *backend) decryptSymmetric(ctx context.Context, req *logical.Request, ref string, raw []byte, ec map[string]string, op string, tokens []string) (*keystore.Key, []byte, error) {
	invalid := func() error {
		// One message for every failure: which check failed is no business
		// of a caller holding a forged blob.
		return kmserr.New(kmserr.InvalidCiphertext, "the ciphertext is invalid, or the encryption context does not match")
	}
	// A blob that does not parse is refused, but only after the key named
	// in the request (if any) has been checked, so key errors come first.
	blob, parseErr := ciphertext.Parse(raw)
	var e *keystore.Key
	var err error
	if ref != "" {
		if e, err = b.usableKey(ctx, req, ref, op, keyspec.EncryptDecrypt, ec, tokens); err != nil {
			return nil, nil, err
		}
		if err := requireAlgorithm(e, keyspec.KindEncryption, keyspec.AlgSymmetricDefault, e.Spec().Encryption); err != nil {
			return nil, nil, err
		}
		if parseErr != nil {
			return nil, nil, invalid()
		}
		if blob.KeyID != e.KeyID {
			return nil, nil, kmserr.New(kmserr.IncorrectKey, "the ciphertext was not encrypted under key '%s'", e.KeyID)
		}
	} else {
		if parseErr != nil {
			return nil, nil, invalid()
		}
		// The blob's key may not exist here (another mount, a deleted key,
		// a forgery): that is an invalid ciphertext, not a missing key.
		if e, err = b.keys.Get(ctx, req.Storage, blob.KeyID); err != nil {
			return nil, nil, err
		}
		if e == nil || b.keys.IsDeleted(e) {
			return nil, nil, invalid()
		}
		if err := b.admit(ctx, req, e, op, keyspec.EncryptDecrypt, ec, tokens); err != nil {
			return nil, nil, err
		}
	}
	if e.InHSM() {
		pt, err := b.tokens.Open(ctx, e, blob, ec)
		return e, pt, err
	}
	k, ok := e.VersionAt(blob.KeyVersion, b.now())
	if !ok {
		return nil, nil, invalid()
	}
	pt, err := blob.Open(k, ec)
	if err != nil {
		return nil, nil, invalid()
	}
	return e, pt, nil
}

// b64 decodes a base64 field.
func b64(d *framework.FieldData, name string, required bool) ([]byte, error) {
	s := d.Get(name).(string)
	if s == "" {
		if required {
			return nil, kmserr.Validationf("%s is required", name)
		}
		return nil, nil
	}
	v, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, kmserr.Validationf("%s must be base64", name)
	}
	return v, nil
}

func enc64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// grantTokens checks the grant_tokens field. Tokens are enforced by the
// grants layer; here only AWS's limit applies.
func grantTokens(d *framework.FieldData) ([]string, error) {
	raw, ok := d.GetOk("grant_tokens")
	if !ok {
		return nil, nil
	}
	t := raw.([]string)
	if len(t) > keyspec.MaxGrantTokens {
		return nil, kmserr.Validationf("at most %d grant tokens are allowed", keyspec.MaxGrantTokens)
	}
	return t, nil
}

func encryptionContext(d *framework.FieldData, name string) (map[string]string, error) {
	ec := d.Get(name).(map[string]string)
	size := 0
	for k, v := range ec {
		size += len(k) + len(v)
	}
	if len(ec) > keyspec.MaxContextPairs || size > keyspec.MaxContextBytes {
		return nil, kmserr.Validationf("%s is too large (at most %d pairs and %d bytes)", name, keyspec.MaxContextPairs, keyspec.MaxContextBytes)
	}
	return ec, nil
}

// blobMaterialID is the id of the material a symmetric ciphertext blob was
// encrypted under ("" for other algorithms, as in AWS's responses).
func (b *backend) blobMaterialID(ctx context.Context, s logical.Storage, e *keystore.Key, alg string, raw []byte) (string, error) {
	if alg != keyspec.AlgSymmetricDefault {
		return "", nil
	}
	blob, err := ciphertext.Parse(raw)
	if err != nil {
		return "", nil // a dry run that ignored the ciphertext
	}
	return b.keys.VersionMaterialID(ctx, s, e, blob.KeyVersion)
}

// withMaterialID adds a material id to a response under field, if known.
func withMaterialID(data map[string]any, field, id string, err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	if id != "" {
		data[field] = id
	}
	return data, nil
}
