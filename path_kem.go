package kms

import (
	"context"
	"errors"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// ML-KEM key encapsulation (AWS's Encapsulate and Decapsulate) with an
// ENCAPSULATE_DECAPSULATE key.
func pathKEM(b *backend) []*framework.Path {
	alg := &framework.FieldSchema{Type: framework.TypeString, Default: keyspec.AlgMLKEM, Description: "ML_KEM, the only encapsulation algorithm."}
	return []*framework.Path{
		cryptoPath("encapsulate/"+keyRef, "encapsulate", "Make a shared secret and its encapsulation for the key (Encapsulate).", pathKEMHelp,
			map[string]*framework.FieldSchema{"encapsulation_algorithm": alg}, b.encapsulate),
		cryptoPath("decapsulate/"+keyRef, "decapsulate", "Recover a shared secret from its encapsulation (Decapsulate).", pathKEMHelp,
			map[string]*framework.FieldSchema{
				"encapsulation_algorithm": alg,
				"shared_secret_ciphertext_blob": {Type: framework.TypeString,
					Description: "The encapsulated shared secret, base64 (768, 1088 or 1568 bytes for ML_KEM_512/768/1024)."},
			}, b.decapsulate),
	}
}

// kemKey admits op on an ENCAPSULATE_DECAPSULATE key with the request's
// encapsulation algorithm.
func (b *backend) kemKey(ctx context.Context, req *logical.Request, d *framework.FieldData, op string) (*keystore.Key, string, error) {
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, "", b.refuseInvalid(ctx, req, d.Get("key_id").(string), true, op, err)
	}
	e, err := b.usableKey(ctx, req, d.Get("key_id").(string), op, keyspec.EncapsulateDecapsulate, nil, tokens)
	if err != nil {
		return nil, "", err
	}
	alg := d.Get("encapsulation_algorithm").(string)
	return e, alg, requireAlgorithm(e, keyspec.KindEncapsulation, alg, e.Spec().Encapsulation)
}

func (b *backend) encapsulate(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	e, alg, err := b.kemKey(ctx, req, d, keyspec.OpEncapsulate)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	secret, ct, err := k.Encapsulate(b.random)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	return map[string]any{"shared_secret": enc64(secret), "shared_secret_ciphertext_blob": enc64(ct), "key_id": e.KeyID,
		"encapsulation_algorithm": alg}, nil
}

func (b *backend) decapsulate(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	ct, err := b64(d, "shared_secret_ciphertext_blob", true)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, d.Get("key_id").(string), true, keyspec.OpDecapsulate, err)
	}
	e, alg, err := b.kemKey(ctx, req, d, keyspec.OpDecapsulate)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	secret, err := k.Decapsulate(ct)
	if errors.Is(err, keyspec.ErrDecrypt) {
		return nil, kmserr.New(kmserr.InvalidCiphertext, "the encapsulated shared secret must be %d bytes for key '%s' (%s), got %d",
			e.Spec().MLKEMCiphertextSize(), e.KeyID, e.KeySpec, len(ct))
	}
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	return map[string]any{"shared_secret": enc64(secret), "key_id": e.KeyID, "encapsulation_algorithm": alg}, nil
}

const pathKEMHelp = `
ML-KEM (FIPS 203) with an ENCAPSULATE_DECAPSULATE key (ML_KEM_512, ML_KEM_768,
ML_KEM_1024). encapsulate/<key> returns a fresh 32-byte shared_secret and
shared_secret_ciphertext_blob, its encapsulation to the key's public key;
anyone holding the public key (GET keys/<key>/public-key) can make one too.
decapsulate/<key> recovers the shared secret from the blob (batch_input for
many). As ML-KEM specifies, a damaged blob of the right size yields an
unrelated secret rather than an error; a blob of the wrong size is an
InvalidCiphertextException.
`
