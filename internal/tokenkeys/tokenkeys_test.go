package tokenkeys_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/ciphertext"
	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/openkms/vault-plugin-kms/internal/tokenkeys"
	"github.com/openkms/vault-plugin-kms/keyspec"
)

// fixture is a connected custom key store on a real SoftHSM2 token.
type fixture struct {
	keys      *tokenkeys.Keys
	s         logical.Storage
	soft      *hsmtest.SoftHSM
	tok       hsmtest.Token
	store     string
	writeSafe bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{soft: hsmtest.New(t), s: &logical.InmemStorage{}, writeSafe: true}
	f.tok = f.soft.InitToken(t, "tokenkeys")
	reg, live := customkeystore.NewRegistry(), customkeystore.NewLive()
	t.Cleanup(live.CloseAll)
	f.keys = &tokenkeys.Keys{Stores: reg, Live: live, WriteSafe: func() bool { return f.writeSafe },
		Logger: func() hclog.Logger { return hclog.NewNullLogger() }}
	f.keys.Keys = keystore.New(keystore.Deps{
		Now: time.Now, Random: func() io.Reader { return rand.Reader }, WriteSafe: func() bool { return true },
		Logger:   func() hclog.Logger { return hclog.NewNullLogger() },
		TokenKey: func(context.Context, logical.Storage) ([]byte, error) { return make([]byte, 32), nil },
	})
	conn := &customkeystore.Connection{Module: f.soft.Module, TokenLabel: f.tok.Label, PIN: f.tok.PIN}
	require.NoError(t, customkeystore.PutConnection(ctx, f.s, "cluster-tokenkeystest", conn))
	st, err := reg.Create(ctx, f.s, customkeystore.CreateInput{Name: "store", Connection: "cluster-tokenkeystest", TokenSerial: "x"}, time.Now())
	require.NoError(t, err)
	f.store = st.ID
	_, err = reg.Change(ctx, f.s, st.ID, func(cur *customkeystore.Store) error {
		if _, err := cur.StartConnect(); err != nil {
			return err
		}
		cur.FinishConnect("")
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, live.Connect(ctx, st.ID, conn))
	live.MarkReady(st.ID)
	return f
}

// newKey creates a key in the store, its object in the token.
func (f *fixture) newKey(t *testing.T, id string) *keystore.Key {
	t.Helper()
	spec, _ := keyspec.Lookup("SYMMETRIC_DEFAULT")
	now := time.Now().UTC()
	e := &keystore.Key{KeyID: id, KeySpec: spec.Name, KeyUsage: keyspec.EncryptDecrypt, Origin: keystore.OriginCloudHSM,
		State: keystore.StateEnabled, CreationDate: now, CustomKeyStoreID: f.store}
	e.SetSpec(spec)
	e.AddHSMVersion(keystore.HSMObjectLabel(id, 1), now)
	require.NoError(t, f.keys.Create(context.Background(), f.s, e, nil))
	return e
}

func requireException(t *testing.T, err error, name string) {
	t.Helper()
	var ke *kmserr.Error
	require.True(t, errors.As(err, &ke), "%v is a KMS error", err)
	require.Equal(t, name, ke.Type)
}

func TestSealOpenInToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := f.newKey(t, "1234abcd-12ab-34cd-56ef-1234567890ab")
	listing := f.soft.ListObjects(t, f.tok)
	require.NotEmpty(t, hsmtest.Object(listing, e.HSMLabel(1)), "the object is in the token")

	ec := map[string]string{"purpose": "test"}
	// A dry run checks and counts nothing.
	require.NoError(t, f.keys.CheckSeal(ctx, f.s, e))
	raw, err := f.s.Get(ctx, keystore.EncryptionCountPrefix+e.KeyID)
	require.NoError(t, err)
	require.Nil(t, raw, "a dry run reserves no encryptions")

	out, err := f.keys.Seal(ctx, f.s, e, []byte("secret"), ec)
	require.NoError(t, err)
	raw, err = f.s.Get(ctx, keystore.EncryptionCountPrefix+e.KeyID)
	require.NoError(t, err)
	require.NotNil(t, raw, "an encryption in the token is counted")
	blob, err := ciphertext.Parse(out)
	require.NoError(t, err)
	require.EqualValues(t, 3, blob.Format)
	pt, err := f.keys.Open(ctx, e, blob, ec)
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), pt)
	_, err = f.keys.Open(ctx, e, blob, map[string]string{"purpose": "other"})
	requireException(t, err, kmserr.InvalidCiphertext)
}

func TestStateFollowsTheConnection(t *testing.T) {
	f := newFixture(t)
	e := f.newKey(t, "1234abcd-12ab-34cd-56ef-1234567890ac")
	state, err := f.keys.State(e)
	require.NoError(t, err)
	require.Equal(t, keystore.StateEnabled, state)

	f.writeSafe = false // a performance standby holds no connection: forwarded
	_, err = f.keys.State(e)
	require.ErrorIs(t, err, logical.ErrReadOnly)
	_, err = f.keys.Token(e)
	require.ErrorIs(t, err, logical.ErrReadOnly)
	f.writeSafe = true

	f.keys.Live.Disconnect(f.store)
	state, err = f.keys.State(e)
	require.NoError(t, err)
	require.Equal(t, keystore.StateUnavailable, state)
	_, err = f.keys.Seal(context.Background(), f.s, e, []byte("x"), nil)
	requireException(t, err, kmserr.InvalidState)
	_, err = f.keys.StoreToken(context.Background(), f.s, f.store)
	require.ErrorIs(t, err, tokenkeys.ErrStoreDown)
	requireException(t, tokenkeys.Refusal(err), kmserr.CustomKeyStoreInvalidState)

	pending := *e
	pending.State = keystore.StatePendingDeletion
	state, err = f.keys.State(&pending)
	require.NoError(t, err)
	require.Equal(t, keystore.StatePendingDeletion, state, "AWS keeps PendingDeletion")
}

func TestReleaseDestroysTheObject(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := f.newKey(t, "1234abcd-12ab-34cd-56ef-1234567890ad")
	keys, err := f.keys.Stores.Keys(ctx, f.s, f.store)
	require.NoError(t, err)
	require.Equal(t, []string{e.KeyID}, keys)
	require.NoError(t, f.keys.Release(ctx, f.s, f.store, e.KeyID, []string{e.HSMLabel(1)}))
	require.Empty(t, hsmtest.Object(f.soft.ListObjects(t, f.tok), e.HSMLabel(1)), "the object is gone")
	keys, err = f.keys.Stores.Keys(ctx, f.s, f.store)
	require.NoError(t, err)
	require.Empty(t, keys)
	// A store that is gone leaves nothing to destroy.
	require.NoError(t, f.keys.Release(ctx, f.s, "cks-00000000000000000", e.KeyID, nil))
}

func TestHealthCheckFailsAStoreWhoseTokenIsGone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.keys.CheckHealth(ctx, f.s))
	st, err := f.keys.Stores.Get(ctx, f.s, f.store)
	require.NoError(t, err)
	require.Equal(t, customkeystore.Connected, st.State)

	f.soft.DeleteToken(t, f.tok.Label)
	require.NoError(t, f.keys.CheckHealth(ctx, f.s))
	st, err = f.keys.Stores.Get(ctx, f.s, f.store)
	require.NoError(t, err)
	require.Equal(t, customkeystore.Failed, st.State)
	_, open := f.keys.Live.Token(f.store)
	require.False(t, open, "the connection is closed")
}
