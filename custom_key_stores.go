package kms

import (
	"context"
	"errors"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// hsmRefusal names the AWS exception of a token's refusal to log in with
// what the caller gave (what): the PIN, or the connection itself.
func hsmRefusal(err error, what string) error {
	code := customkeystore.CodeFor(err)
	switch {
	case errors.Is(err, hsm.ErrInvalidPIN), errors.Is(err, hsm.ErrPINLocked), errors.Is(err, hsm.ErrUserNotFound):
		return kmserr.Validationf("%s: the token refused the login (%s)", what, code)
	case errors.Is(err, hsm.ErrUserLoggedIn):
		return kmserr.New(kmserr.CloudHsmClusterInvalidConf, "%s cannot be checked: the token is logged in through another connection (%s)", what, code)
	case errors.Is(err, hsm.ErrTokenNotFound), errors.Is(err, hsm.ErrUnavailable), errors.Is(err, hsm.ErrModule):
		return kmserr.New(kmserr.CloudHsmClusterNotActive, "the HSM connection's token cannot be reached (%s)", code)
	}
	// ErrUnsupported (no AES-GCM or AES key generation), ErrConfig, or a
	// token error: the connection does not lead to a usable token.
	return kmserr.New(kmserr.CloudHsmClusterInvalidConf, "the HSM connection's token is not usable: %v", err)
}

func (b *backend) pathCKSConnect(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.Get("custom_key_store_id").(string)
	var done bool
	st, err := b.cks.Change(ctx, req.Storage, id, func(st *customkeystore.Store) error {
		var err error
		done, err = st.StartConnect()
		return err
	})
	if err != nil {
		return nil, customkeystore.Exception(err)
	}
	if !done {
		// As in AWS, the request succeeds once connecting has started; a
		// failure shows as FAILED with its connection_error_code.
		if err := b.connectStore(ctx, req.Storage, st); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// connectStore opens the store's token and records the outcome. Only a
// failure to write storage is an error.
func (b *backend) connectStore(ctx context.Context, s logical.Storage, st *customkeystore.Store) error {
	code := customkeystore.ErrorCode("")
	conn, err := customkeystore.GetConnection(ctx, s, st.Connection)
	switch {
	case err != nil:
		return err
	case conn == nil:
		code = customkeystore.ClusterNotFound
	default:
		code = b.openStoreToken(ctx, st, conn)
	}
	final, err := b.cks.Change(ctx, s, st.ID, func(cur *customkeystore.Store) error {
		cur.FinishConnect(code)
		return nil
	})
	if err != nil || final.State != customkeystore.Connected {
		// Disconnected or deleted meanwhile, or failed: no open token.
		b.hsmLive.Disconnect(st.ID)
	} else {
		b.hsmLive.MarkReady(st.ID)
	}
	if errors.Is(err, customkeystore.ErrNotFound) {
		return nil
	}
	return err
}

// openStoreToken connects and checks that the connection still reaches
// the store's token: keys are objects in that token, not in any other.
func (b *backend) openStoreToken(ctx context.Context, st *customkeystore.Store, conn *customkeystore.Connection) customkeystore.ErrorCode {
	if err := b.hsmLive.Connect(ctx, st.ID, conn); err != nil {
		b.Logger().Warn("connecting a custom key store failed", "custom_key_store_id", st.ID, "error", err)
		return customkeystore.CodeFor(err)
	}
	if t, ok := b.hsmLive.Token(st.ID); !ok || t.Serial() != st.TokenSerial {
		b.Logger().Warn("the HSM connection reaches another token than the custom key store's", "custom_key_store_id", st.ID)
		return customkeystore.ClusterNotFound
	}
	return ""
}

func (b *backend) pathCKSDisconnect(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.Get("custom_key_store_id").(string)
	if _, err := b.cks.Change(ctx, req.Storage, id, func(st *customkeystore.Store) error { return st.StartDisconnect() }); err != nil {
		return nil, customkeystore.Exception(err)
	}
	b.hsmLive.Disconnect(id)
	_, err := b.cks.Change(ctx, req.Storage, id, func(st *customkeystore.Store) error {
		st.FinishDisconnect()
		return nil
	})
	return nil, customkeystore.Exception(err)
}

func (b *backend) pathCKSUpdate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.Get("custom_key_store_id").(string)
	st, err := b.cks.Get(ctx, req.Storage, id)
	if err != nil {
		return nil, customkeystore.Exception(err)
	}
	if err := st.CheckUpdatable(); err != nil {
		return nil, customkeystore.Exception(err)
	}
	newName, hasName := d.GetOk("new_custom_key_store_name")
	cluster, hasCluster := d.GetOk("cloud_hsm_cluster_id")
	password, hasPassword := d.GetOk("key_store_password")
	if !hasName && !hasCluster && !hasPassword {
		return nil, kmserr.Validationf("give new_custom_key_store_name, cloud_hsm_cluster_id or key_store_password")
	}
	if hasCluster || hasPassword {
		if err := b.checkStoreToken(ctx, req.Storage, st, cluster, password); err != nil {
			return nil, err
		}
	}
	st, err = b.cks.Change(ctx, req.Storage, id, func(st *customkeystore.Store) error {
		if err := st.CheckUpdatable(); err != nil {
			return err
		}
		if hasName {
			st.Name = newName.(string)
		}
		if hasCluster {
			st.Connection = cluster.(string)
		}
		return nil
	})
	if err != nil {
		return nil, customkeystore.Exception(err)
	}
	return &logical.Response{Data: cksData(st)}, nil
}

// checkStoreToken logs in to the (new) connection's token, with the given
// PIN or else the connection's, and checks it is the store's token, as AWS
// lets a store move only to a related cluster.
func (b *backend) checkStoreToken(ctx context.Context, s logical.Storage, st *customkeystore.Store, cluster, password any) error {
	name := st.Connection
	if cluster != nil {
		name = cluster.(string)
	}
	conn, err := b.hsmConnection(ctx, s, name)
	if err != nil {
		return err
	}
	pin := conn.PIN
	if password != nil {
		if err := validPassword(password.(string)); err != nil {
			return err
		}
		pin = password.(string)
	}
	serial, err := customkeystore.Check(ctx, conn, pin)
	if err != nil {
		return hsmRefusal(err, "key_store_password")
	}
	if serial != st.TokenSerial {
		return kmserr.New(kmserr.CloudHsmClusterNotRelated, "the HSM connection reaches another token than the custom key store's")
	}
	return nil
}

// reconnectStores connects, on the node that became active, every store
// whose operator asked for it to be connected.
func (b *backend) reconnectStores(ctx context.Context, s logical.Storage) error {
	ids, err := b.cks.Wanted(ctx, s)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		st, err := b.cks.Get(ctx, s, id)
		if errors.Is(err, customkeystore.ErrNotFound) {
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		// A FAILED store stays failed until it is disconnected, as in AWS.
		if !st.WantConnected || st.State == customkeystore.Failed {
			continue
		}
		st, err = b.cks.Change(ctx, s, st.ID, func(cur *customkeystore.Store) error {
			cur.State = customkeystore.Connecting
			return nil
		})
		if err == nil {
			err = b.connectStore(ctx, s, st)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *backend) hsmConnection(ctx context.Context, s logical.Storage, name string) (*customkeystore.Connection, error) {
	if !customkeystore.ValidConnectionName(name) {
		return nil, kmserr.New(kmserr.CloudHsmClusterNotFound, "no HSM connection has that name")
	}
	c, err := customkeystore.GetConnection(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, kmserr.New(kmserr.CloudHsmClusterNotFound, "HSM connection %s does not exist", name)
	}
	return c, nil
}
