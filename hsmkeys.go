package kms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Keys in a custom key store (origin AWS_CLOUDHSM, docs/HSM.md): their
// material is an AES-256 object in the store's token, created there
// non-extractable; the key entry holds only its label.

// hsmTimeout bounds every token call: a token that hangs answers an error
// rather than holding the request (and the key's lock) forever.
const hsmTimeout = 30 * time.Second

// errStoreDown is why a key of a store is Unavailable.
var errStoreDown = errors.New("the custom key store is not connected")

// storeToken is the open token of a CONNECTED store. errStoreDown when
// the store is not connected or this node holds no connection to it.
func (b *backend) storeToken(ctx context.Context, s logical.Storage, storeID string) (*hsm.Token, error) {
	st, err := b.cks.Get(ctx, s, storeID)
	if err != nil {
		return nil, err
	}
	tok, ok := b.hsmLive.Token(storeID)
	if !st.Usable() || !ok {
		return nil, errStoreDown
	}
	return tok, nil
}

// keyToken is the token of a key in a custom key store, for a
// cryptographic operation: a store that is not connected makes the key
// Unavailable (KMSInvalidStateException), as in AWS. Connections are open
// on the active node only, so a performance standby forwards.
func (b *backend) keyToken(e *keystore.Key) (*hsm.Token, error) {
	if !b.WriteSafeReplicationState() {
		return nil, logical.ErrReadOnly
	}
	// From memory: a token is ready only once its store's connect finished
	// CONNECTED, and disconnecting, a failed health check or deleting the
	// store closes it (customkeystore.Live).
	if tok, ok := b.hsmLive.Ready(e.CustomKeyStoreID); ok {
		return tok, nil
	}
	return nil, unavailable(e)
}

func unavailable(e *keystore.Key) error {
	return kmserr.InvalidStatef("key '%s' is Unavailable: its custom key store is not connected", e.KeyID)
}

// keyStateOf is the key state DescribeKey reports: Unavailable for a key
// whose store is not connected, unless it is pending deletion (AWS keeps
// that state). Whether it is connected is known only where the token
// connections are open, the active node: a performance standby answers
// ErrReadOnly, which Vault forwards there, as it does for a read.
func (b *backend) keyStateOf(e *keystore.Key) (string, error) {
	if !e.InHSM() || e.State == keystore.StatePendingDeletion {
		return e.State, nil
	}
	if !b.WriteSafeReplicationState() {
		return "", logical.ErrReadOnly
	}
	if _, ok := b.hsmLive.Ready(e.CustomKeyStoreID); !ok {
		return keystore.StateUnavailable, nil
	}
	return e.State, nil
}

// tokenError is the answer to a token call that failed: never a 500, and
// never a change to storage. The key object of a key the plugin created
// being missing, or the token gone, leaves the key unusable for now.
func tokenError(e *keystore.Key, err error) error {
	if errors.Is(err, hsm.ErrDecrypt) {
		return kmserr.New(kmserr.InvalidCiphertext, "the ciphertext is invalid, or the encryption context does not match")
	}
	return kmserr.InvalidStatef("key '%s' cannot be used now: its custom key store's token did not complete the operation (%s)", e.KeyID, hsmClass(err))
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

// sealInToken encrypts under the key's current version in its token, in
// ciphertext format 3.
func (b *backend) sealInToken(ctx context.Context, s logical.Storage, e *keystore.Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	tok, err := b.keyToken(e)
	if err != nil {
		return nil, err
	}
	if err := b.countEncryption(ctx, s, e); err != nil {
		return nil, err
	}
	v, _ := e.Latest()
	label := e.HSMLabel(v)
	ctx, cancel := context.WithTimeout(ctx, hsmTimeout)
	defer cancel()
	blob, err := ciphertext.SealToken(e.KeyID, v, ec, plaintext, func(aad, pt []byte) ([]byte, []byte, error) {
		return tok.EncryptGCM(ctx, label, pt, aad)
	})
	if err != nil {
		return nil, tokenError(e, err)
	}
	return blob, nil
}

// openInToken decrypts a blob of a key in a custom key store.
func (b *backend) openInToken(ctx context.Context, s logical.Storage, e *keystore.Key, blob *ciphertext.Blob, ec map[string]string) ([]byte, error) {
	invalid := kmserr.New(kmserr.InvalidCiphertext, "the ciphertext is invalid, or the encryption context does not match")
	label := e.HSMLabel(blob.KeyVersion)
	if label == "" || blob.Format != 3 {
		return nil, invalid
	}
	tok, err := b.keyToken(e)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, hsmTimeout)
	defer cancel()
	pt, err := blob.OpenToken(ec, func(iv, sealed, aad []byte) ([]byte, error) {
		return tok.DecryptGCM(ctx, label, iv, sealed, aad)
	})
	switch {
	case err == nil:
		return pt, nil
	case errors.Is(err, ciphertext.ErrAuth), errors.Is(err, hsm.ErrDecrypt):
		return nil, invalid
	}
	return nil, tokenError(e, err)
}

// createInToken stores a new key of a custom key store, crash-safe: the
// creating/ entry (naming the store) and the store's key index come
// first, then the object in the token, then the key entry (with its
// alias). A failure after the object was made destroys it; a crash leaves
// the creating/ entry, and the sweep destroys the object
// (keystore.Store.Destroy, releaseHSM). The caller holds the key's lock
// and, with an alias, the alias lock.
func (b *backend) createInToken(ctx context.Context, s logical.Storage, e *keystore.Key, alias *keystore.Alias) error {
	tok, err := b.storeToken(ctx, s, e.CustomKeyStoreID)
	if err != nil {
		return b.storeRefusal(err)
	}
	name := ""
	if alias != nil {
		name = alias.Name
	}
	if err := keystore.PutCreating(ctx, s, e, name); err != nil {
		return err
	}
	if err := b.cks.AddKey(ctx, s, e.CustomKeyStoreID, e.KeyID); err != nil {
		_ = s.Delete(ctx, keystore.CreatingPrefix+e.KeyID)
		return cksError(err)
	}
	hctx, cancel := context.WithTimeout(ctx, hsmTimeout)
	defer cancel()
	if err := tok.GenerateAES256(hctx, e.Versions[0].HSMLabel); err != nil {
		b.undoTokenCreate(ctx, s, e, tok)
		return tokenError(e, err)
	}
	if alias == nil {
		err = b.keys.Put(ctx, s, e)
	} else {
		err = b.keys.CreateWithAlias(ctx, s, e, alias)
	}
	if err != nil {
		b.undoTokenCreate(ctx, s, e, tok)
		return err
	}
	if alias == nil {
		if err := s.Delete(ctx, keystore.CreatingPrefix+e.KeyID); err != nil {
			b.Logger().Warn("could not remove the creation marker; the sweep will", "key_id", e.KeyID, "error", err)
		}
	}
	return nil
}

// undoTokenCreate destroys the object of a create that failed. If the
// token cannot, the creating/ entry stays so the sweep tries again.
func (b *backend) undoTokenCreate(ctx context.Context, s logical.Storage, e *keystore.Key, tok *hsm.Token) {
	hctx, cancel := context.WithTimeout(ctx, hsmTimeout)
	defer cancel()
	if err := tok.Destroy(hctx, e.Versions[0].HSMLabel); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
		b.Logger().Warn("a failed CreateKey left its key object in the token; the sweep will destroy it", "key_id", e.KeyID, "error", err)
		_ = keystore.PutCreating(ctx, s, e, "")
		return
	}
	_ = s.Delete(ctx, keystore.KeyPrefix+e.KeyID)
	b.keys.Keys.Invalidate(e.KeyID)
	if err := b.cks.RemoveKey(ctx, s, e.CustomKeyStoreID, e.KeyID); err == nil {
		_ = s.Delete(ctx, keystore.CreatingPrefix+e.KeyID)
	}
}

// storeRefusal names the AWS exception for CreateKey in a store that is
// missing (CustomKeyStoreNotFoundException) or not connected
// (CustomKeyStoreInvalidStateException).
func (b *backend) storeRefusal(err error) error {
	if errors.Is(err, errStoreDown) {
		return kmserr.New(kmserr.CustomKeyStoreInvalidState, "the custom key store is not connected: connect it before creating keys in it")
	}
	return cksError(err)
}

// releaseHSM (keystore.Deps.ReleaseHSM) destroys a key's objects in its
// store's token at the end of its deletion window, then takes the key out
// of the store's index. A store that is not connected keeps the key
// PendingDeletion until the sweep finds it connected.
func (b *backend) releaseHSM(ctx context.Context, s logical.Storage, storeID, keyID string, labels []string) error {
	tok, err := b.storeToken(ctx, s, storeID)
	switch {
	case errors.Is(err, customkeystore.ErrNotFound):
		return nil // the store went first: no object can be left to destroy
	case err != nil:
		return fmt.Errorf("key %s stays until its custom key store %s is connected: %w", keyID, storeID, err)
	}
	hctx, cancel := context.WithTimeout(ctx, hsmTimeout)
	defer cancel()
	for _, l := range labels {
		if err := tok.Destroy(hctx, l); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
			return fmt.Errorf("key %s: destroying its object in custom key store %s: %w", keyID, storeID, err)
		}
	}
	return b.cks.RemoveKey(ctx, s, storeID, keyID)
}

// storeFields adds DescribeKey's custom key store fields: the store and
// its HSM connection (AWS's CloudHsmClusterId).
func (b *backend) storeFields(ctx context.Context, s logical.Storage, e *keystore.Key, data map[string]any) error {
	if !e.InHSM() {
		return nil
	}
	data["custom_key_store_id"] = e.CustomKeyStoreID
	st, err := b.cks.Get(ctx, s, e.CustomKeyStoreID)
	switch {
	case errors.Is(err, customkeystore.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	data["cloud_hsm_cluster_id"] = st.Connection
	return nil
}

// checkStoreHealth (periodic) marks FAILED, with AWS's connection error
// code, a connected store whose token no longer answers, so an operator
// sees why its keys fail; until then a token error fails only the request
// it happened in. As in AWS the store stays FAILED until it is
// disconnected and connected again.
func (b *backend) checkStoreHealth(ctx context.Context, s logical.Storage) error {
	stores, err := b.cks.List(ctx, s)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range stores {
		tok, ok := b.hsmLive.Token(st.ID)
		if st.State != customkeystore.Connected || !ok {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, hsmTimeout)
		herr := tok.Health(hctx)
		cancel()
		if herr == nil {
			continue
		}
		b.Logger().Warn("a custom key store's token stopped answering; the store is FAILED until disconnected and connected again",
			"custom_key_store_id", st.ID, "error", herr)
		code := customkeystore.CodeFor(herr)
		if code == customkeystore.InternalError {
			// A token that answered the connect and now fails its health
			// check (SoftHSM2 says CKR_GENERAL_ERROR for a deleted token)
			// is out of reach, not a fault of the plugin.
			code = customkeystore.NetworkErrors
		}
		_, err := b.cks.Change(ctx, s, st.ID, func(cur *customkeystore.Store) error {
			cur.Lost(code)
			return nil
		})
		if err != nil && !errors.Is(err, customkeystore.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		b.hsmLive.Disconnect(st.ID)
	}
	return errors.Join(errs...)
}

// countEncryption counts one encryption in the token with e against the
// random-IV bound before it is made (keystore.CountEncryption: from
// memory, with a storage write per reserved block). A dry run checks the
// bound and stops there: it neither reserves an encryption nor spends an
// IV in the token.
func (b *backend) countEncryption(ctx context.Context, s logical.Storage, e *keystore.Key) error {
	if awsapi.IsDryRun(ctx) {
		if err := b.keys.EncryptionAllowed(ctx, s, e.KeyID); err != nil {
			return err
		}
		return awsapi.DryRunStop(ctx)
	}
	return b.keys.CountEncryption(ctx, s, e.KeyID)
}
