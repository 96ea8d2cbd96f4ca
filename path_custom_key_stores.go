package kms

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Custom key stores (AWS's CloudHSM key stores) over PKCS#11 tokens: the
// six AWS operations on Vault-style paths. Vault's ACL on these paths (and
// on aws/<Operation>) decides who may manage stores, as IAM policies do in
// AWS; creating one also needs the crypto user's PIN.

func pathCustomKeyStores(b *backend) []*framework.Path {
	op := func(cb framework.OperationFunc, summary, verb string) *framework.PathOperation {
		return &framework.PathOperation{Callback: cb, Summary: summary, DisplayAttrs: &framework.DisplayAttributes{OperationVerb: verb}}
	}
	idOnly := map[string]*framework.FieldSchema{"custom_key_store_id": fieldCKSID}
	return []*framework.Path{
		{
			Pattern:      "custom-key-stores/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "custom-key-stores"},
			Fields: map[string]*framework.FieldSchema{
				"custom_key_store_id":   {Type: framework.TypeString, Query: true, Description: "List only this store."},
				"custom_key_store_name": fieldCKSName,
				"custom_key_store_type": {Type: framework.TypeString, Default: customkeystore.TypeCloudHSM,
					Description: "AWS_CLOUDHSM, the only type (EXTERNAL_KEY_STORE is refused)."},
				"cloud_hsm_cluster_id": fieldClusterID,
				"key_store_password":   fieldKeyStorePassword,
				"trust_anchor_certificate": {Type: framework.TypeString,
					Description: "PEM certificate, kept and returned as AWS does; the token's authenticity is the PKCS#11 library's configuration."},
				"limit": fieldLimit,
				"after": fieldAfter,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation:   op(b.pathCKSList, "Describe custom key stores (DescribeCustomKeyStores), paged.", "list"),
				logical.UpdateOperation: op(b.pathCKSCreate, "Create a custom key store (CreateCustomKeyStore).", "create"),
			},
			HelpSynopsis:    pathCKSSyn,
			HelpDescription: pathCKSDesc,
		},
		{
			Pattern:      "custom-key-stores/(?P<custom_key_store_id>[^/]+)$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "custom-key-store"},
			Fields: map[string]*framework.FieldSchema{
				"custom_key_store_id":       fieldCKSID,
				"new_custom_key_store_name": {Type: framework.TypeString, Description: "A new name for the store."},
				"cloud_hsm_cluster_id":      fieldClusterID,
				"key_store_password":        fieldKeyStorePassword,
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation:   op(b.pathCKSRead, "Describe one custom key store.", "read"),
				logical.UpdateOperation: op(b.pathCKSUpdate, "Change a disconnected custom key store (UpdateCustomKeyStore).", "update"),
				logical.DeleteOperation: op(b.pathCKSDelete, "Delete a disconnected custom key store without keys (DeleteCustomKeyStore).", "delete"),
			},
			HelpSynopsis:    pathCKSSyn,
			HelpDescription: pathCKSDesc,
		},
		{
			Pattern:      "custom-key-stores/(?P<custom_key_store_id>[^/]+)/connect$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "custom-key-store"},
			Fields:       idOnly,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: op(b.pathCKSConnect, "Connect a custom key store to its token (ConnectCustomKeyStore).", "connect"),
			},
			HelpSynopsis:    pathCKSSyn,
			HelpDescription: pathCKSDesc,
		},
		{
			Pattern:      "custom-key-stores/(?P<custom_key_store_id>[^/]+)/disconnect$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "custom-key-store"},
			Fields:       idOnly,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: op(b.pathCKSDisconnect, "Disconnect a custom key store (DisconnectCustomKeyStore).", "disconnect"),
			},
			HelpSynopsis:    pathCKSSyn,
			HelpDescription: pathCKSDesc,
		},
	}
}

func (b *backend) pathCKSList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	var stores []*customkeystore.Store
	id, name := d.Get("custom_key_store_id").(string), d.Get("custom_key_store_name").(string)
	switch {
	case id != "" && name != "":
		return nil, kmserr.Validationf("give custom_key_store_id or custom_key_store_name, not both")
	case id != "":
		st, err := b.cks.Get(ctx, req.Storage, id)
		if err != nil {
			return nil, customkeystore.Exception(err)
		}
		stores = append(stores, st)
	case name != "":
		st, err := b.cks.ByName(ctx, req.Storage, name)
		if err != nil {
			return nil, customkeystore.Exception(err)
		}
		stores = append(stores, st)
	default:
		all, err := b.cks.List(ctx, req.Storage)
		if err != nil {
			return nil, err
		}
		stores = all
	}
	ids := make([]string, len(stores))
	byID := make(map[string]*customkeystore.Store, len(stores))
	for i, st := range stores {
		ids[i], byID[st.ID] = st.ID, st
	}
	shown, next, err := page(ids, d)
	if err != nil {
		return nil, err
	}
	info := make(map[string]any, len(shown))
	for _, id := range shown {
		info[id] = cksData(byID[id])
	}
	return listResponse(shown, info, next), nil
}

func (b *backend) pathCKSRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st, err := b.cks.Get(ctx, req.Storage, d.Get("custom_key_store_id").(string))
	if err != nil {
		return nil, customkeystore.Exception(err)
	}
	return &logical.Response{Data: cksData(st)}, nil
}

// trustAnchor checks a TrustAnchorCertificate: one PEM certificate.
func trustAnchor(s string) error {
	if s == "" {
		return nil
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		return kmserr.New(kmserr.IncorrectTrustAnchor, "trust_anchor_certificate must be one PEM certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return kmserr.New(kmserr.IncorrectTrustAnchor, "trust_anchor_certificate is not a valid X.509 certificate")
	}
	return nil
}

func (b *backend) pathCKSCreate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	switch typ := d.Get("custom_key_store_type").(string); typ {
	case customkeystore.TypeCloudHSM:
	case "EXTERNAL_KEY_STORE":
		return nil, kmserr.Unsupportedf("external key stores have no counterpart here; custom key stores are AWS_CLOUDHSM over PKCS#11")
	default:
		return nil, kmserr.Validationf("custom_key_store_type must be AWS_CLOUDHSM")
	}
	name, cluster := d.Get("custom_key_store_name").(string), d.Get("cloud_hsm_cluster_id").(string)
	password, anchor := d.Get("key_store_password").(string), d.Get("trust_anchor_certificate").(string)
	if err := customkeystore.ValidName(name); err != nil {
		return nil, customkeystore.Exception(err)
	}
	if cluster == "" {
		return nil, kmserr.Validationf("cloud_hsm_cluster_id is required")
	}
	if err := validPassword(password); err != nil {
		return nil, err
	}
	if err := trustAnchor(anchor); err != nil {
		return nil, err
	}
	if err := b.cks.Available(ctx, req.Storage, name, cluster); err != nil {
		return nil, customkeystore.Exception(err)
	}
	conn, err := b.hsmConnection(ctx, req.Storage, cluster)
	if err != nil {
		return nil, err
	}
	serial, err := customkeystore.Check(ctx, conn, password)
	if err != nil {
		return nil, hsmRefusal(err, "key_store_password")
	}
	st, err := b.cks.Create(ctx, req.Storage, customkeystore.CreateInput{Name: name, Connection: cluster, TokenSerial: serial,
		TrustAnchor: anchor}, b.now())
	if err != nil {
		return nil, customkeystore.Exception(err)
	}
	return &logical.Response{Data: cksData(st)}, nil
}

func (b *backend) pathCKSDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, customkeystore.Exception(b.cks.Delete(ctx, req.Storage, d.Get("custom_key_store_id").(string)))
}

const pathCKSSyn = "Custom key stores: keys whose material is generated and used in a PKCS#11 token."

const pathCKSDesc = `
A custom key store (AWS's CloudHSM key store) uses an HSM connection that an
operator defined at config/hsm/<name>; cloud_hsm_cluster_id names it. Create
checks key_store_password (the crypto user's PIN) by logging in. A store is
created DISCONNECTED; connect it to use it. It can be updated only while
disconnected, and deleted only while disconnected and holding no keys.
connection_state is CONNECTED, CONNECTING, DISCONNECTED, DISCONNECTING or
FAILED, with connection_error_code saying why it failed.
`
