package kms

import (
	"context"
	"io"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

func pathMAC(b *backend) []*framework.Path {
	macFields := func(withMAC bool) map[string]*framework.FieldSchema {
		f := map[string]*framework.FieldSchema{
			"message":       {Type: framework.TypeString, Description: "Message, base64, 1..4096 bytes."},
			"mac_algorithm": {Type: framework.TypeString, Description: "HMAC_SHA_224/256/384/512, matching the key spec (required)."},
		}
		if withMAC {
			f["mac"] = &framework.FieldSchema{Type: framework.TypeString, Description: "The MAC to verify, base64."}
		}
		return f
	}
	return []*framework.Path{
		cryptoPath("generate-mac/"+keyRef, "generate-mac", "Compute an HMAC (GenerateMac).", pathMACHelp, macFields(false), b.generateMAC),
		cryptoPath("verify-mac/"+keyRef, "verify-mac", "Verify an HMAC (VerifyMac).", pathMACHelp, macFields(true), b.verifyMAC),
		{
			Pattern:      "derive-shared-secret/" + keyRef + "$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "derive-shared-secret"},
			Fields: withKey(map[string]*framework.FieldSchema{
				"key_agreement_algorithm": {Type: framework.TypeString, Default: keyspec.AlgECDH, Description: "ECDH."},
				"public_key":              {Type: framework.TypeString, Description: "The peer's public key: SubjectPublicKeyInfo DER, base64."},
				"grant_tokens":            fieldGrantTokens,
				"dry_run":                 fieldDryRun,
			}),
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: dryRunnable(b.pathDeriveSharedSecret),
					Summary: "Derive an ECDH shared secret with a peer's public key (DeriveSharedSecret)."},
			},
			HelpSynopsis:    "Derive an ECDH shared secret (DeriveSharedSecret).",
			HelpDescription: pathDeriveHelp,
		},
		{
			Pattern:      "random$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationVerb: "generate-random"},
			Fields: map[string]*framework.FieldSchema{
				"number_of_bytes": {Type: framework.TypeInt, Default: 32, Description: "How many random bytes, 1..1024 (default 32)."},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathRandom, Summary: "Random bytes (GenerateRandom)."},
			},
			HelpSynopsis:    "Random bytes from the plugin's CSPRNG (GenerateRandom).",
			HelpDescription: "Write number_of_bytes (1..1024); the bytes come back base64 in plaintext.",
		},
	}
}

func (b *backend) macInput(ctx context.Context, req *logical.Request, d *framework.FieldData, op string) (*keystore.Key, string, []byte, error) {
	ref := d.Get("key_id").(string)
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, "", nil, b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	msg, err := b64(d, "message", true)
	if err != nil {
		return nil, "", nil, b.refuseInvalid(ctx, req, ref, true, op, err)
	}
	e, err := b.usableKey(ctx, req, ref, op, keyspec.GenerateVerifyMAC, nil, tokens)
	if err != nil {
		return nil, "", nil, err
	}
	alg := d.Get("mac_algorithm").(string)
	return e, alg, msg, requireAlgorithm(e, keyspec.KindMAC, alg, e.Spec().MAC)
}

func (b *backend) generateMAC(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	e, alg, msg, err := b.macInput(ctx, req, d, keyspec.OpGenerateMac)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	mac, err := k.MAC(alg, msg)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	return map[string]any{"mac": enc64(mac), "key_id": e.KeyID, "mac_algorithm": alg}, nil
}

func (b *backend) verifyMAC(ctx context.Context, req *logical.Request, d *framework.FieldData) (map[string]any, error) {
	e, alg, msg, err := b.macInput(ctx, req, d, keyspec.OpVerifyMac)
	if err != nil {
		return nil, err
	}
	mac, err := b64(d, "mac", true)
	if err != nil {
		return nil, err
	}
	_, k := e.Latest()
	ok, err := k.VerifyMAC(alg, msg, mac)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	if !ok {
		return nil, kmserr.New(kmserr.InvalidMac, "the MAC is not valid for key '%s' with %s", e.KeyID, alg)
	}
	return map[string]any{"mac_valid": true, "key_id": e.KeyID, "mac_algorithm": alg}, nil
}

func (b *backend) pathDeriveSharedSecret(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	ref := d.Get("key_id").(string)
	tokens, err := grantTokens(d)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, ref, true, keyspec.OpDeriveSharedSecret, err)
	}
	peer, err := b64(d, "public_key", true)
	if err != nil {
		return nil, b.refuseInvalid(ctx, req, ref, true, keyspec.OpDeriveSharedSecret, err)
	}
	e, err := b.usableKey(ctx, req, ref, keyspec.OpDeriveSharedSecret, keyspec.KeyAgreement, nil, tokens)
	if err != nil {
		return nil, err
	}
	alg := d.Get("key_agreement_algorithm").(string)
	if err := requireAlgorithm(e, keyspec.KindKeyAgreement, alg, e.Spec().KeyAgreement); err != nil {
		return nil, err
	}
	_, k := e.Latest()
	secret, err := k.DeriveSharedSecret(peer)
	if err != nil {
		return nil, mapCryptoErr(err)
	}
	return &logical.Response{Data: map[string]any{
		"shared_secret": enc64(secret), "key_id": e.KeyID, "key_agreement_algorithm": alg, "key_origin": e.Origin,
	}}, nil
}

func (b *backend) pathRandom(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	n := d.Get("number_of_bytes").(int)
	if n < 1 || n > keyspec.MaxRandom {
		return nil, kmserr.Validationf("number_of_bytes must be between 1 and %d", keyspec.MaxRandom)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(b.random, out); err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"plaintext": enc64(out)}}, nil
}

const pathMACHelp = `
Compute or verify an HMAC with a GENERATE_VERIFY_MAC key. mac_algorithm must
match the key spec (HMAC_256 takes HMAC_SHA_256, ...). Verification compares
in constant time; a mismatch is a KMSInvalidMacException (HTTP 400).
`

const pathDeriveHelp = `
Runs ECDH between a KEY_AGREEMENT key (ECC_NIST_P256/P384/P521) and the
peer's public key (SubjectPublicKeyInfo DER, base64) and returns the raw
shared secret (the x coordinate), as AWS does. A peer key on another curve
is a ValidationException. Derive your own keys from the secret with a KDF.
`
