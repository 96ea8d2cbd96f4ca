package keystore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

func newTestStore(t *testing.T) (*Store, logical.Storage) {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	token := []byte("0123456789abcdef0123456789abcdef")
	return New(Deps{
		Now:      func() time.Time { return now },
		Random:   func() io.Reader { return rand.Reader },
		TokenKey: func(context.Context, logical.Storage) ([]byte, error) { return token, nil },
	}), &logical.InmemStorage{}
}

// newStoredKey writes a new symmetric key with one material version.
func newStoredKey(t *testing.T, st *Store, s logical.Storage, id string) *Key {
	t.Helper()
	spec, ok := keyspec.Lookup(keyspec.SymmetricDefault)
	require.True(t, ok)
	k := &Key{KeyID: id, KeySpec: spec.Name, KeyUsage: keyspec.EncryptDecrypt, Origin: OriginAWSKMS, State: StateEnabled, CreationDate: st.now()}
	k.SetSpec(spec)
	m, err := spec.Generate(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, k.AddVersion(m, st.now()))
	unlock := st.Lock(id)
	defer unlock()
	require.NoError(t, st.Put(context.Background(), s, k))
	return k
}

// Key material versions are append-only: Put refuses to replace or drop a
// stored version, whatever the caller's entry says.
func TestPutKeyAppendOnly(t *testing.T) {
	st, s := newTestStore(t)
	ctx := context.Background()
	id := "00000000-0000-0000-0000-000000000001"
	newStoredKey(t, st, s, id)
	stored, err := st.Read(ctx, s, id, nil)
	require.NoError(t, err)
	orig := stored.Versions[0].Material

	unlock := st.Lock(id)
	defer unlock()
	// A different version 1 (what a stale cache made rotation do).
	other, err := stored.Spec().Generate(rand.Reader)
	require.NoError(t, err)
	c := stored.Clone()
	c.DropVersions()
	require.NoError(t, c.AddVersion(other, st.now()))
	err = st.Put(ctx, s, c)
	require.Error(t, err)
	require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(orig))
	require.NotContains(t, err.Error(), hex.EncodeToString(orig))

	// Dropping a version of generated material.
	c = stored.Clone()
	c.Versions = nil
	require.Error(t, st.Put(ctx, s, c))

	after, err := st.Read(ctx, s, id, nil)
	require.NoError(t, err)
	require.Equal(t, orig, after.Versions[0].Material, "storage unchanged")

	// Appending is fine.
	c = stored.Clone()
	require.NoError(t, st.Rotate(c, RotationOnDemand, st.now()))
	require.NoError(t, st.Put(ctx, s, c))
}

// A key with a stored policy never loads as the default (allow-all) policy
// for want of a parser: without one it does not load at all.
func TestStoredPolicyNeedsAParser(t *testing.T) {
	st, s := newTestStore(t)
	ctx := context.Background()
	id := "00000000-0000-0000-0000-000000000002"
	k := newStoredKey(t, st, s, id)
	k = k.Clone()
	k.Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`
	unlock := st.Lock(id)
	require.NoError(t, st.Put(ctx, s, k))
	unlock()
	_, err := st.Read(ctx, s, id, nil)
	require.ErrorContains(t, err, "no policy parser")
}
