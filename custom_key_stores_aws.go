package kms

import (
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The custom key store operations' part of the AWS protocol and of the
// response schemas, kept beside the operations rather than in the shared
// tables (aws_ops.go, aws_shapes.go, responses.go), which init merges.

var mXks = []string{"XksProxyAuthenticationCredential", "XksProxyConnectivity", "XksProxyUriEndpoint", "XksProxyUriPath",
	"XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"}

var cksAWSOperations = map[string]awsOp{
	"CreateCustomKeyStore": {route: "custom-key-stores", op: logical.UpdateOperation,
		members: with(mXks, "CustomKeyStoreName", "CloudHsmClusterId", "CustomKeyStoreType", "KeyStorePassword", "TrustAnchorCertificate"),
		out:     shape("CustomKeyStoreId", "custom_key_store_id")},
	"DescribeCustomKeyStores": {route: "custom-key-stores", op: logical.ListOperation,
		members: with(mList, "CustomKeyStoreId", "CustomKeyStoreName"), out: awsListCustomKeyStores},
	"ConnectCustomKeyStore": {route: "custom-key-stores/:custom_key_store_id/connect", op: logical.UpdateOperation,
		members: []string{"CustomKeyStoreId"}},
	"DisconnectCustomKeyStore": {route: "custom-key-stores/:custom_key_store_id/disconnect", op: logical.UpdateOperation,
		members: []string{"CustomKeyStoreId"}},
	"UpdateCustomKeyStore": {route: "custom-key-stores/:custom_key_store_id", op: logical.UpdateOperation,
		members: with(mXks, "CustomKeyStoreId", "NewCustomKeyStoreName", "CloudHsmClusterId", "KeyStorePassword")},
	"DeleteCustomKeyStore": {route: "custom-key-stores/:custom_key_store_id", op: logical.DeleteOperation,
		members: []string{"CustomKeyStoreId"}},
}

// awsOpMembers overrides awsMembers for one operation: CustomKeyStoreId
// names the store here, while CreateKey and GenerateRandom still refuse it.
var awsOpMembers = map[string]map[string]func(any, map[string]any) error{}

func init() {
	for name, op := range cksAWSOperations {
		awsOperations[name] = op
		delete(awsUnsupported, name)
		awsOpMembers[name] = map[string]func(any, map[string]any) error{"CustomKeyStoreId": to("custom_key_store_id")}
	}
	for member, field := range map[string]string{"CustomKeyStoreName": "custom_key_store_name", "CloudHsmClusterId": "cloud_hsm_cluster_id",
		"CustomKeyStoreType": "custom_key_store_type", "KeyStorePassword": "key_store_password",
		"TrustAnchorCertificate": "trust_anchor_certificate", "NewCustomKeyStoreName": "new_custom_key_store_name"} {
		awsMembers[member] = to(field)
	}
	xks := refuse(kmserr.UnsupportedOperation, "external key stores have no counterpart here; custom key stores are AWS_CLOUDHSM over PKCS#11")
	for _, m := range mXks {
		awsMembers[m] = named(m, xks)
	}

	for name, f := range cksResponseFields {
		responseFields[name] = f
	}
	for route, ops := range cksResponses {
		responseTable[route] = ops
	}
}

func awsListCustomKeyStores(x awsOut) map[string]any {
	return awsList(x, "CustomKeyStores", func(_ string, info map[string]any) map[string]any {
		m := shape("CustomKeyStoreId", "custom_key_store_id", "CustomKeyStoreName", "custom_key_store_name",
			"CustomKeyStoreType", "custom_key_store_type", "CloudHsmClusterId", "cloud_hsm_cluster_id",
			"ConnectionState", "connection_state", "ConnectionErrorCode", "connection_error_code",
			"TrustAnchorCertificate", "trust_anchor_certificate")(awsOut{data: info})
		m["CreationDate"] = epoch(info["creation_date"])
		return m
	})
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
