package kms

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// HSM connections: how the plugin reaches a PKCS#11 token. Only an
// operator defines them (the paths need sudo): loading a module runs its
// code inside the plugin, so API callers only name a connection, as
// CreateCustomKeyStore's CloudHsmClusterId.

const hsmConfigPrefix = "config/hsm/"

func pathConfigHSM(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:      "config/hsm/?$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "hsm-connections"},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathHSMList, Summary: "List HSM connections.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list"}},
			},
			HelpSynopsis:    pathConfigHSMSyn,
			HelpDescription: pathConfigHSMDesc,
		},
		{
			Pattern:      "config/hsm/(?P<name>[^/]+)$",
			DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "hsm-connection"},
			Fields: map[string]*framework.FieldSchema{
				"name": {Type: framework.TypeString, Required: true,
					Description: "Connection name, which custom key stores use as CloudHsmClusterId: cluster- and 11 to 16 of [2-7a-zA-Z]."},
				"module_path": {Type: framework.TypeString,
					Description: "Absolute path of the PKCS#11 library on every Vault node, e.g. /usr/lib/softhsm/libsofthsm2.so."},
				"token_label": {Type: framework.TypeString, Description: "Label of the token (or give slot)."},
				"slot":        {Type: framework.TypeInt, Description: "Slot id of the token (or give token_label)."},
				"pin": {Type: framework.TypeString, DisplayAttrs: &framework.DisplayAttributes{Sensitive: true},
					Description: "The crypto user's PIN. Write-only: never returned; stored seal-wrapped. Kept when omitted on an update."},
			},
			ExistenceCheck: b.hsmConnectionExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.pathHSMRead, Summary: "Read an HSM connection (without its PIN).",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"}},
				logical.CreateOperation: &framework.PathOperation{Callback: b.pathHSMWrite, Summary: "Define an HSM connection; the PIN is checked by logging in.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "write"}},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathHSMWrite, Summary: "Change an HSM connection; the PIN is checked by logging in.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "write"}},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.pathHSMDelete, Summary: "Delete an HSM connection that no custom key store uses.",
					DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "delete"}},
			},
			HelpSynopsis:    pathConfigHSMSyn,
			HelpDescription: pathConfigHSMDesc,
		},
	}
}

func (b *backend) hsmConnectionExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	name := d.Get("name").(string)
	if !customkeystore.ValidConnectionName(name) {
		return false, nil
	}
	c, err := customkeystore.GetConnection(ctx, req.Storage, name)
	return c != nil, err
}

func (b *backend) pathHSMList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := customkeystore.ListConnections(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	return logical.ListResponse(names), nil
}

func (b *backend) pathHSMRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	c, err := b.hsmConnection(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: hsmConnectionData(name, c)}, nil
}

func hsmConnectionData(name string, c *customkeystore.Connection) map[string]any {
	data := map[string]any{"name": name, "module_path": c.Module}
	if c.TokenLabel != "" {
		data["token_label"] = c.TokenLabel
	}
	if c.Slot != nil {
		data["slot"] = int(*c.Slot)
	}
	return data
}

func (b *backend) pathHSMWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if !customkeystore.ValidConnectionName(name) {
		return nil, kmserr.Validationf("name must be cluster- and 11 to 16 of [2-7a-zA-Z], the form of AWS's CloudHsmClusterId")
	}
	c, err := customkeystore.GetConnection(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = &customkeystore.Connection{}
	}
	if err := hsmConnectionFields(c, d); err != nil {
		return nil, err
	}
	resp := &logical.Response{}
	if _, err := customkeystore.Check(ctx, c, c.PIN); errors.Is(err, hsm.ErrUserLoggedIn) {
		// A custom key store of this plugin is connected to the token: the
		// token cannot prove the PIN now, and the store's session shows the
		// token is reachable.
		resp.AddWarning("the PIN was not checked: a custom key store is connected to this token")
	} else if err != nil {
		return nil, hsmRefusal(err, "the HSM connection")
	}
	if err := customkeystore.PutConnection(ctx, req.Storage, name, c); err != nil {
		return nil, customkeystore.Exception(err)
	}
	resp.Data = hsmConnectionData(name, c)
	return resp, nil
}

// hsmConnectionFields applies the request's fields to c, keeping what is
// not given, and checks the result.
func hsmConnectionFields(c *customkeystore.Connection, d *framework.FieldData) error {
	if v, ok := d.GetOk("module_path"); ok {
		c.Module = v.(string)
	}
	label, hasLabel := d.GetOk("token_label")
	slot, hasSlot := d.GetOk("slot")
	switch {
	case hasLabel && hasSlot:
		return kmserr.Validationf("give token_label or slot, not both")
	case hasLabel:
		c.TokenLabel, c.Slot = label.(string), nil
	case hasSlot:
		if slot.(int) < 0 {
			return kmserr.Validationf("slot must not be negative")
		}
		s := uint(slot.(int))
		c.TokenLabel, c.Slot = "", &s
	}
	if v, ok := d.GetOk("pin"); ok {
		c.PIN = v.(string)
	}
	if c.Module == "" || !filepath.IsAbs(c.Module) {
		return kmserr.Validationf("module_path must be the absolute path of the PKCS#11 library")
	}
	if fi, err := os.Stat(c.Module); err != nil || !fi.Mode().IsRegular() {
		return kmserr.Validationf("module_path names no file on this node")
	}
	if c.TokenLabel == "" && c.Slot == nil {
		return kmserr.Validationf("token_label or slot is required")
	}
	if c.PIN == "" {
		return kmserr.Validationf("pin is required")
	}
	return nil
}

func (b *backend) pathHSMDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if !customkeystore.ValidConnectionName(name) {
		return nil, nil
	}
	return nil, customkeystore.Exception(b.cks.DeleteConnection(ctx, req.Storage, name))
}

const pathConfigHSMSyn = "HSM connections (PKCS#11) that custom key stores use; sudo."

const pathConfigHSMDesc = `
An HSM connection names a PKCS#11 library (module_path), a token in it
(token_label or slot) and the crypto user's PIN. Custom key stores name a
connection as their CloudHsmClusterId. The paths need sudo: loading a
library runs its code in the plugin. Every Vault node needs the same
library at the same path, as it needs the plugin binary. The PIN is
write-only and stored seal-wrapped; writing a connection logs in with it.
A connection that a custom key store uses cannot be deleted.
`
