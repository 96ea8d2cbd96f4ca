// Package tokenkeys does the work of keys in a custom key store (origin
// AWS_CLOUDHSM, docs/HSM.md): their material is an AES-256 object in the
// store's token, created there non-extractable; the key entry holds only
// its label. It finds a key's token, encrypts and decrypts in it (counting
// encryptions against the random-IV bound), creates and destroys the
// objects, and marks a store whose token stopped answering.
package tokenkeys

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Timeout bounds every token call: a token that hangs answers an error
// rather than holding the request (and the key's lock) forever.
const Timeout = 30 * time.Second

// ErrStoreDown is why a key of a store is Unavailable.
var ErrStoreDown = errors.New("the custom key store is not connected")

// Keys holds what the keys of custom key stores are used through.
type Keys struct {
	Stores *customkeystore.Registry
	Live   *customkeystore.Live // this node's open token connections
	Keys   *keystore.Store
	// WriteSafe reports whether this node may write the mount's storage:
	// token connections are open there only.
	WriteSafe func() bool
	Logger    func() hclog.Logger
}

// StoreToken is the open token of a CONNECTED store. ErrStoreDown when the
// store is not connected or this node holds no connection to it.
func (k *Keys) StoreToken(ctx context.Context, s logical.Storage, storeID string) (*hsm.Token, error) {
	st, err := k.Stores.Get(ctx, s, storeID)
	if err != nil {
		return nil, err
	}
	tok, ok := k.Live.Token(storeID)
	if !st.Usable() || !ok {
		return nil, ErrStoreDown
	}
	return tok, nil
}

// Token is the token of a key in a custom key store, for a cryptographic
// operation: a store that is not connected makes the key Unavailable
// (KMSInvalidStateException), as in AWS. Connections are open on the
// active node only, so a performance standby forwards.
func (k *Keys) Token(e *keystore.Key) (*hsm.Token, error) {
	if !k.WriteSafe() {
		return nil, logical.ErrReadOnly
	}
	// From memory: a token is ready only once its store's connect finished
	// CONNECTED, and disconnecting, a failed health check or deleting the
	// store closes it (customkeystore.Live).
	if tok, ok := k.Live.Ready(e.CustomKeyStoreID); ok {
		return tok, nil
	}
	return nil, kmserr.InvalidStatef("key '%s' is Unavailable: its custom key store is not connected", e.KeyID)
}

// State is the key state DescribeKey reports: Unavailable for a key whose
// store is not connected, unless it is pending deletion (AWS keeps that
// state). Whether it is connected is known only where the token
// connections are open, the active node: a performance standby answers
// ErrReadOnly, which Vault forwards there, as it does for a read.
func (k *Keys) State(e *keystore.Key) (string, error) {
	if !e.InHSM() || e.State == keystore.StatePendingDeletion {
		return e.State, nil
	}
	if !k.WriteSafe() {
		return "", logical.ErrReadOnly
	}
	if _, ok := k.Live.Ready(e.CustomKeyStoreID); !ok {
		return keystore.StateUnavailable, nil
	}
	return e.State, nil
}

// tokenError is the answer to a token call that failed: never a 500, and
// never a change to storage. The key object of a key the plugin created
// being missing, or the token gone, leaves the key unusable for now.
func tokenError(e *keystore.Key, err error) error {
	if errors.Is(err, hsm.ErrDecrypt) {
		return invalidCiphertext()
	}
	return kmserr.InvalidStatef("key '%s' cannot be used now: its custom key store's token did not complete the operation (%s)", e.KeyID, hsmClass(err))
}

func invalidCiphertext() error {
	return kmserr.New(kmserr.InvalidCiphertext, "the ciphertext is invalid, or the encryption context does not match")
}

// hsmClass names a token failure's class without anything the caller sent.
func hsmClass(err error) string {
	var he *hsm.Error
	if errors.As(err, &he) {
		return he.Class.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "token error"
}

// Seal encrypts under the key's current version in its token, in
// ciphertext format 3, after counting the encryption against the
// random-IV bound (keystore.CountEncryption: from memory, with a storage
// write per reserved block).
func (k *Keys) Seal(ctx context.Context, s logical.Storage, e *keystore.Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	tok, err := k.Token(e)
	if err != nil {
		return nil, err
	}
	if err := k.Keys.CountEncryption(ctx, s, e.KeyID); err != nil {
		return nil, err
	}
	v, _ := e.Latest()
	label := e.HSMLabel(v)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	blob, err := ciphertext.SealToken(e.KeyID, v, ec, plaintext, func(aad, pt []byte) ([]byte, []byte, error) {
		return tok.EncryptGCM(ctx, label, pt, aad)
	})
	if err != nil {
		return nil, tokenError(e, err)
	}
	return blob, nil
}

// CheckSeal is Seal's dry run: it checks the key's token and the bound,
// and neither reserves an encryption nor spends an IV in the token.
func (k *Keys) CheckSeal(ctx context.Context, s logical.Storage, e *keystore.Key) error {
	if _, err := k.Token(e); err != nil {
		return err
	}
	return k.Keys.EncryptionAllowed(ctx, s, e.KeyID)
}

// Open decrypts a blob of a key in a custom key store.
func (k *Keys) Open(ctx context.Context, e *keystore.Key, blob *ciphertext.Blob, ec map[string]string) ([]byte, error) {
	label := e.HSMLabel(blob.KeyVersion)
	if label == "" || blob.Format != 3 {
		return nil, invalidCiphertext()
	}
	tok, err := k.Token(e)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	pt, err := blob.OpenToken(ec, func(iv, sealed, aad []byte) ([]byte, error) {
		return tok.DecryptGCM(ctx, label, iv, sealed, aad)
	})
	switch {
	case err == nil:
		return pt, nil
	case errors.Is(err, ciphertext.ErrAuth), errors.Is(err, hsm.ErrDecrypt):
		return nil, invalidCiphertext()
	}
	return nil, tokenError(e, err)
}

// Fields adds DescribeKey's custom key store fields: the store and its
// HSM connection (AWS's CloudHsmClusterId).
func (k *Keys) Fields(ctx context.Context, s logical.Storage, e *keystore.Key, data map[string]any) error {
	if !e.InHSM() {
		return nil
	}
	data["custom_key_store_id"] = e.CustomKeyStoreID
	st, err := k.Stores.Get(ctx, s, e.CustomKeyStoreID)
	switch {
	case errors.Is(err, customkeystore.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	data["cloud_hsm_cluster_id"] = st.Connection
	return nil
}

// CheckHealth (periodic) marks FAILED, with AWS's connection error code, a
// connected store whose token no longer answers, so an operator sees why
// its keys fail; until then a token error fails only the request it
// happened in. As in AWS the store stays FAILED until it is disconnected
// and connected again.
func (k *Keys) CheckHealth(ctx context.Context, s logical.Storage) error {
	stores, err := k.Stores.List(ctx, s)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range stores {
		tok, ok := k.Live.Token(st.ID)
		if st.State != customkeystore.Connected || !ok {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, Timeout)
		herr := tok.Health(hctx)
		cancel()
		if herr == nil {
			continue
		}
		k.Logger().Warn("a custom key store's token stopped answering; the store is FAILED until disconnected and connected again",
			"custom_key_store_id", st.ID, "error", herr)
		code := customkeystore.CodeFor(herr)
		if code == customkeystore.InternalError {
			// A token that answered the connect and now fails its health
			// check (SoftHSM2 says CKR_GENERAL_ERROR for a deleted token)
			// is out of reach, not a fault of the plugin.
			code = customkeystore.NetworkErrors
		}
		_, err := k.Stores.Change(ctx, s, st.ID, func(cur *customkeystore.Store) error {
			cur.Lost(code)
			return nil
		})
		if err != nil && !errors.Is(err, customkeystore.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		k.Live.Disconnect(st.ID)
	}
	return errors.Join(errs...)
}
