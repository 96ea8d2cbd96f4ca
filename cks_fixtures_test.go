package kms

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/hashicorp/vault/sdk/logical"
)

// Fixtures of the custom key store operations for the member walk. Stores
// that are only created, changed or deleted use the shared token; a store
// that gets connected takes a token of its own.
func init() {
	fixtures["CreateCustomKeyStore"] = func(w *walk) []any {
		tok := w.hsm.shared
		return []any{&awskms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(w.unique("walk-store")),
			CloudHsmClusterId: aws.String(w.hsm.connection(w.tb, tok)), KeyStorePassword: aws.String(tok.PIN),
			CustomKeyStoreType: types.CustomKeyStoreTypeAwsCloudhsm, TrustAnchorCertificate: aws.String(testCertPEM(w.t))}}
	}
	fixtures["DescribeCustomKeyStores"] = func(w *walk) []any {
		id := w.hsm.store(w.tb, w.hsm.shared)
		name := w.tb.ok(logical.ReadOperation, "custom-key-stores/"+id, nil)["custom_key_store_name"].(string)
		return []any{
			&awskms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id), Limit: aws.Int32(5), Marker: aws.String("cks-0")},
			&awskms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String(name)},
		}
	}
	fixtures["ConnectCustomKeyStore"] = func(w *walk) []any {
		return []any{&awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(w.hsm.store(w.tb, w.hsm.token(w.t)))}}
	}
	fixtures["DisconnectCustomKeyStore"] = func(w *walk) []any {
		return []any{&awskms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(w.hsm.connected(w.tb))}}
	}
	fixtures["UpdateCustomKeyStore"] = func(w *walk) []any {
		tok := w.hsm.shared
		return []any{&awskms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(w.hsm.store(w.tb, tok)),
			NewCustomKeyStoreName: aws.String(w.unique("walk-renamed")), KeyStorePassword: aws.String(tok.PIN),
			CloudHsmClusterId: aws.String(w.hsm.connection(w.tb, tok))}}
	}
	fixtures["DeleteCustomKeyStore"] = func(w *walk) []any {
		return []any{&awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(w.hsm.store(w.tb, w.hsm.shared))}}
	}
}
