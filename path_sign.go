package kms

import (
	"context"
	"encoding/pem"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathSign(b *backend) []*framework.Path {
	fields := func(extra map[string]*framework.FieldSchema) map[string]*framework.FieldSchema {
		f := map[string]*framework.FieldSchema{
			"message": {Type: framework.TypeString, Description: "Message (RAW, up to 4096 bytes), digest (DIGEST) or ML-DSA mu (EXTERNAL_MU, 64 bytes), base64."},
			"message_type": {Type: framework.TypeString, Default: keyspec.MessageRaw,
				Description: "RAW (the plugin hashes the message), DIGEST (the message is the hash) or, for ML-DSA, EXTERNAL_MU (the message is FIPS 204's mu)."},
			"signing_algorithm": {Type: framework.TypeString, Description: "One of the key's signing algorithms (required)."},
		}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	return []*framework.Path{
		cryptoPath("sign/"+keyRef, "sign", "Sign a message (Sign).", pathSignHelp, fields(nil), b.sign),
		cryptoPath("verify/"+keyRef, "verify", "Verify a signature (Verify).", pathSignHelp,
			fields(map[string]*framework.FieldSchema{"signature": {Type: framework.TypeString, Description: "Signature, base64."}}), b.verify),
	}
}

// pathPublicKey is keys/<key>/public-key; it is registered before the bare
// keys/<key> path.
func pathPublicKey(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      "keys/" + keyRef + "/public-key$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "public-key"},
		Fields:       withKey(map[string]*framework.FieldSchema{"grant_tokens": fieldGrantTokens}),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathPublicKeyRead, Summary: "Download the public key (GetPublicKey).",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
		},
		HelpSynopsis:    "Download the public key of an asymmetric key (GetPublicKey).",
		HelpDescription: pathPublicKeyHelp,
	}
}

// signingInput reads and checks the fields Sign and Verify share.
func (b *backend) signingInput(ctx context.Context, req *logical.Request, d *framework.FieldData, op string) (*keystore.Key, *keyspec.SigningAlgorithm, []byte, string, error) {
	ref := d.Get("key_id").(string)
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, nil, nil, "", b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	msg, err := b64(d, "message", true)
	if err != nil {
		return nil, nil, nil, "", b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	e, err := b.usableKey(ctx, req, ref, op, keyspec.SignVerify, nil, tokens)
	if err != nil {
		return nil, nil, nil, "", err
	}
	name := d.Get("signing_algorithm").(string)
	if name == "" {
		return nil, nil, nil, "", kmserr.Validationf("signing_algorithm is required; valid signing algorithms for key '%s': %s", e.KeyID, keyspec.OneOf(e.Spec().Signing))
	}
	if err := requireAlgorithm(e, keyspec.KindSigning, name, e.Spec().Signing); err != nil {
		return nil, nil, nil, "", err
	}
	alg, _ := keyspec.LookupSigning(name)
	return e, alg, msg, d.Get("message_type").(string), nil
}

func (b *backend) sign(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	e, alg, msg, msgType, err := b.signingInput(ctx, req, d, keyspec.OpSign)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	sig, err := k.Sign(alg, msg, msgType, b.random)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	return map[string]any{"signature": enc64(sig), "key_id": e.KeyID, "signing_algorithm": alg.Name}, nil
}

func (b *backend) verify(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	e, alg, msg, msgType, err := b.signingInput(ctx, req, d, keyspec.OpVerify)
	if err != nil {
		return nil, err
	}
	sig, err := b64(d, "signature", true)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	ok, err := k.Verify(alg, msg, msgType, sig)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	if !ok {
		// AWS reports a bad signature as an exception, not as false.
		return nil, kmserr.New(kmserr.InvalidSignature, "the signature is not valid for key '%s' with %s", e.KeyID, alg.Name)
	}
	return map[string]any{"signature_valid": true, "key_id": e.KeyID, "signing_algorithm": alg.Name}, nil
}

func (b *backend) pathPublicKeyRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.resolveKey(ctx, req.Storage, d.Get("key_id").(string), true)
	if err != nil {
		return nil, err
	}
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, e.KeyID, false, keyspec.OpGetPublicKey, err)
	}
	if err := b.authorize(ctx, req, e, keyspec.OpGetPublicKey, nil, tokens); err != nil {
		return nil, err
	}
	if e.Spec().Symmetric() {
		return nil, kmserr.Unsupportedf("key '%s' is a %s key and has no public key", e.KeyID, e.KeySpec)
	}
	if err := keystore.CheckStateAt(e, keyspec.OpGetPublicKey, b.now()); err != nil {
		return nil, err
	}
	_, k := e.Latest()
	der, err := k.PublicKeyDER()
	if err != nil {
		return nil, err
	}
	algs := e.Spec().Algorithms(e.KeyUsage)
	data := map[string]any{
		"key_id":         e.KeyID,
		"key_spec":       e.KeySpec,
		"key_usage":      e.KeyUsage,
		"public_key":     enc64(der),
		"public_key_pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
	setIf(data, "encryption_algorithms", algs.Encryption)
	setIf(data, "signing_algorithms", algs.Signing)
	setIf(data, "key_agreement_algorithms", algs.KeyAgreement)
	setIf(data, "encapsulation_algorithms", algs.Encapsulation)
	return &logical.Response{Data: data}, nil
}

const pathSignHelp = `
Sign and verify with a SIGN_VERIFY key. signing_algorithm must be one of the
key's (RSASSA_PSS_SHA_256/384/512 with salt length equal to the hash length,
RSASSA_PKCS1_V1_5_SHA_256/384/512, ECDSA_SHA_256/384/512 with DER signatures,
ED25519_SHA_512 with RAW messages, ED25519_PH_SHA_512 with DIGEST messages
(hashed once more, as in AWS: Ed25519ph whose message is the digest),
ML_DSA_SHAKE_256 with RAW or EXTERNAL_MU messages). A RAW message is up to 4096 bytes; a
DIGEST must be exactly the algorithm's hash length. A signature that does
not verify is a KMSInvalidSignatureException (HTTP 400), as in AWS.
`

const pathPublicKeyHelp = `
Returns the key's SubjectPublicKeyInfo (DER, base64, and PEM) with its key
spec, usage and algorithms. Symmetric and HMAC keys have no public key
(UnsupportedOperationException).
`
