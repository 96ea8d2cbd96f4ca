package tokenkeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// Create stores a new key of a custom key store, crash-safe: the creating/
// entry (naming the store) and the store's key index come first, then the
// object in the token, then the key entry (with its alias). A failure
// after the object was made destroys it; a crash leaves the creating/
// entry, and the sweep destroys the object (keystore.Store.Destroy,
// Release). The caller holds the key's lock and, with an alias, the alias
// lock.
func (k *Keys) Create(ctx context.Context, s logical.Storage, e *keystore.Key, alias *keystore.Alias) error {
	tok, err := k.StoreToken(ctx, s, e.CustomKeyStoreID)
	if err != nil {
		return Refusal(err)
	}
	name := ""
	if alias != nil {
		name = alias.Name
	}
	if err := keystore.PutCreating(ctx, s, e, name); err != nil {
		return err
	}
	if err := k.Stores.AddKey(ctx, s, e.CustomKeyStoreID, e.KeyID); err != nil {
		_ = s.Delete(ctx, keystore.CreatingPrefix+e.KeyID)
		return customkeystore.Exception(err)
	}
	hctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := tok.GenerateAES256(hctx, e.Versions[0].HSMLabel); err != nil {
		k.undoCreate(ctx, s, e, tok)
		return tokenError(e, err)
	}
	if alias == nil {
		err = k.Keys.Put(ctx, s, e)
	} else {
		err = k.Keys.CreateWithAlias(ctx, s, e, alias)
	}
	if err != nil {
		k.undoCreate(ctx, s, e, tok)
		return err
	}
	if alias == nil {
		if err := s.Delete(ctx, keystore.CreatingPrefix+e.KeyID); err != nil {
			k.Logger().Warn("could not remove the creation marker; the sweep will", "key_id", e.KeyID, "error", err)
		}
	}
	return nil
}

// undoCreate destroys the object of a create that failed. If the token
// cannot, the creating/ entry stays so the sweep tries again.
func (k *Keys) undoCreate(ctx context.Context, s logical.Storage, e *keystore.Key, tok *hsm.Token) {
	hctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := tok.Destroy(hctx, e.Versions[0].HSMLabel); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
		k.Logger().Warn("a failed CreateKey left its key object in the token; the sweep will destroy it", "key_id", e.KeyID, "error", err)
		_ = keystore.PutCreating(ctx, s, e, "")
		return
	}
	_ = s.Delete(ctx, keystore.KeyPrefix+e.KeyID)
	k.Keys.Keys.Invalidate(e.KeyID)
	if err := k.Stores.RemoveKey(ctx, s, e.CustomKeyStoreID, e.KeyID); err == nil {
		_ = s.Delete(ctx, keystore.CreatingPrefix+e.KeyID)
	}
}

// Refusal names the AWS exception for CreateKey in a store that is
// missing (CustomKeyStoreNotFoundException) or not connected
// (CustomKeyStoreInvalidStateException).
func Refusal(err error) error {
	if errors.Is(err, ErrStoreDown) {
		return kmserr.New(kmserr.CustomKeyStoreInvalidState, "the custom key store is not connected: connect it before creating keys in it")
	}
	return customkeystore.Exception(err)
}

// Release (keystore.Deps.ReleaseHSM) destroys a key's objects in its
// store's token at the end of its deletion window, then takes the key out
// of the store's index. A store that is not connected keeps the key
// PendingDeletion until the sweep finds it connected.
func (k *Keys) Release(ctx context.Context, s logical.Storage, storeID, keyID string, labels []string) error {
	tok, err := k.StoreToken(ctx, s, storeID)
	switch {
	case errors.Is(err, customkeystore.ErrNotFound):
		return nil // the store went first: no object can be left to destroy
	case err != nil:
		return fmt.Errorf("key %s stays until its custom key store %s is connected: %w", keyID, storeID, err)
	}
	hctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	for _, l := range labels {
		if err := tok.Destroy(hctx, l); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
			return fmt.Errorf("key %s: destroying its object in custom key store %s: %w", keyID, storeID, err)
		}
	}
	return k.Stores.RemoveKey(ctx, s, storeID, keyID)
}
