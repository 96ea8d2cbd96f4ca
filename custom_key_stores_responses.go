package kms

import (
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// The custom key store operations' part of the response schemas, kept
// beside the operations rather than in the shared table (responses.go),
// which init merges. Their part of the AWS protocol is in internal/awsapi.

func init() {
	for name, f := range cksResponseFields {
		responseFields[name] = f
	}
	for route, ops := range cksResponses {
		responseTable[route] = ops
	}
}

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
