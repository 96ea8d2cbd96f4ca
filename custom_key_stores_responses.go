package kms

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The custom key store operations' part of the response schemas, kept
// beside the operations; responses.go joins them to the shared ones. Their
// part of the AWS protocol is in internal/awsapi.

var cksResponseFields = map[string]*framework.FieldSchema{
	"custom_key_store_id":      fieldCKSID,
	"custom_key_store_name":    fieldCKSName,
	"cloud_hsm_cluster_id":     fieldClusterID,
	"custom_key_store_type":    {Type: framework.TypeString, Description: "AWS_CLOUDHSM."},
	"connection_state":         {Type: framework.TypeString, Description: "CONNECTED, CONNECTING, DISCONNECTED, DISCONNECTING or FAILED."},
	"connection_error_code":    {Type: framework.TypeString, Description: "Why the store is FAILED: INVALID_CREDENTIALS, CLUSTER_NOT_FOUND, INSUFFICIENT_CLOUDHSM_HSMS, USER_LOCKED_OUT, USER_LOGGED_IN, USER_NOT_FOUND, NETWORK_ERRORS or INTERNAL_ERROR."},
	"trust_anchor_certificate": {Type: framework.TypeString, Description: "The TrustAnchorCertificate given at creation, PEM."},
	"name":                     {Type: framework.TypeString, Description: "The HSM connection's name."},
	"module_path":              {Type: framework.TypeString, Description: "Path of the PKCS#11 library."},
	"token_label":              {Type: framework.TypeString, Description: "Label of the token."},
	"slot":                     {Type: framework.TypeInt, Description: "Slot id of the token."},
}

var (
	cksFields = fieldList("custom_key_store_id", "custom_key_store_name", "custom_key_store_type", "cloud_hsm_cluster_id",
		"connection_state", "connection_error_code", "trust_anchor_certificate", "creation_date")
	hsmConnFields = fieldList("name", "module_path", "token_label", "slot")
)

var cksResponses = map[string]map[logical.Operation]opResponse{
	"custom-key-stores": {
		logical.ListOperation:   okResp("Custom key store ids; key_info holds each store: "+strings.Join(cksFields, ", ")+".", listFields),
		logical.UpdateOperation: okResp("The new custom key store.", cksFields),
	},
	"custom-key-stores/{custom_key_store_id}": {
		logical.ReadOperation:   okResp("The custom key store.", cksFields),
		logical.UpdateOperation: okResp("The custom key store after the change.", cksFields),
		logical.DeleteOperation: noContent("The custom key store is deleted."),
	},
	"custom-key-stores/{custom_key_store_id}/connect":    {logical.UpdateOperation: noContent("Connecting has started; describe the store for its connection_state.")},
	"custom-key-stores/{custom_key_store_id}/disconnect": {logical.UpdateOperation: noContent("The store is disconnected.")},
	"config/hsm": {logical.ListOperation: okResp("HSM connection names.", fieldList("keys"))},
	"config/hsm/{name}": {
		logical.ReadOperation:   okResp("The HSM connection, without its PIN.", hsmConnFields),
		logical.CreateOperation: okResp("The HSM connection, without its PIN.", hsmConnFields),
		logical.UpdateOperation: okResp("The HSM connection, without its PIN.", hsmConnFields),
		logical.DeleteOperation: noContent("The HSM connection is deleted."),
	},
}

var (
	fieldCKSID = &framework.FieldSchema{Type: framework.TypeString, Required: true,
		Description: "Custom key store id, cks- and 17 hexadecimal digits."}
	fieldCKSName = &framework.FieldSchema{Type: framework.TypeString,
		Description: "Custom key store name, 1 to 256 characters, unique in the mount."}
	fieldClusterID = &framework.FieldSchema{Type: framework.TypeString,
		Description: "The HSM connection (config/hsm/<name>) the store uses: AWS's CloudHsmClusterId."}
	fieldKeyStorePassword = &framework.FieldSchema{Type: framework.TypeString, DisplayAttrs: &framework.DisplayAttributes{Sensitive: true},
		Description: "The token's crypto user PIN (7 to 32 characters), checked by logging in; not stored (the connection holds the PIN)."}
)

func cksData(st *customkeystore.Store) map[string]any {
	m := map[string]any{"custom_key_store_id": st.ID, "custom_key_store_name": st.Name, "custom_key_store_type": st.Type,
		"cloud_hsm_cluster_id": st.Connection, "connection_state": string(st.State),
		"creation_date": st.CreationDate.Format(time.RFC3339)}
	if st.ErrorCode != "" {
		m["connection_error_code"] = string(st.ErrorCode)
	}
	if st.TrustAnchor != "" {
		m["trust_anchor_certificate"] = st.TrustAnchor
	}
	return m
}

func validPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < 7 || n > 32 {
		return kmserr.Validationf("key_store_password must be 7 to 32 characters")
	}
	return nil
}
