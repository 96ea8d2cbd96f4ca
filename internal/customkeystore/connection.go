package customkeystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/hsm"
)

// ConnectionPrefix is where HSM connections are stored. Entries hold the
// crypto user's PIN: the backend lists the prefix in SealWrapStorage.
const ConnectionPrefix = "hsm-connection/"

// Connection is an operator-defined way to reach a token. Only an operator
// (a sudo path) writes one: loading a PKCS#11 module runs its code in the
// plugin, so an API caller only ever names a connection.
type Connection struct {
	Module     string `json:"module_path"`
	TokenLabel string `json:"token_label,omitempty"`
	Slot       *uint  `json:"slot,omitempty"`
	PIN        string `json:"pin"`
}

// Config is the connection as the hsm package takes it.
func (c Connection) Config() hsm.Config {
	return hsm.Config{Module: c.Module, TokenLabel: c.TokenLabel, Slot: c.Slot, PIN: c.PIN}
}

// GetConnection reads a connection; nil when there is none.
func GetConnection(ctx context.Context, s logical.Storage, name string) (*Connection, error) {
	e, err := s.Get(ctx, ConnectionPrefix+name)
	if err != nil || e == nil {
		return nil, err
	}
	var c Connection
	if err := json.Unmarshal(e.Value, &c); err != nil {
		return nil, fmt.Errorf("HSM connection %s: %w", name, err)
	}
	return &c, nil
}

// PutConnection stores a connection under a valid name.
func PutConnection(ctx context.Context, s logical.Storage, name string, c *Connection) error {
	if !ValidConnectionName(name) {
		return refuse(ErrInvalid, "an HSM connection name must match cluster-[2-7a-zA-Z]{11,16}, as AWS's CloudHsmClusterId")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.Put(ctx, &logical.StorageEntry{Key: ConnectionPrefix + name, Value: raw, SealWrap: true})
}

// DeleteConnection removes a connection no store uses.
func (r *Registry) DeleteConnection(ctx context.Context, s logical.Storage, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, err := r.List(ctx, s)
	if err != nil {
		return err
	}
	for _, st := range all {
		if st.Connection == name {
			return refuse(ErrConnectionInUse, "custom key store %s uses HSM connection %s: delete the store first", st.ID, name)
		}
	}
	return s.Delete(ctx, ConnectionPrefix+name)
}

// ListConnections lists the connection names, sorted.
func ListConnections(ctx context.Context, s logical.Storage) ([]string, error) {
	names, err := s.List(ctx, ConnectionPrefix)
	sort.Strings(names)
	return names, err
}

// CodeFor is the ConnectionErrorCode for a failure to reach a token.
func CodeFor(err error) ErrorCode {
	switch {
	case errors.Is(err, hsm.ErrInvalidPIN):
		return InvalidCredentials
	case errors.Is(err, hsm.ErrPINLocked):
		return UserLockedOut
	case errors.Is(err, hsm.ErrUserLoggedIn):
		return UserLoggedIn
	case errors.Is(err, hsm.ErrUserNotFound):
		return UserNotFound
	case errors.Is(err, hsm.ErrTokenNotFound):
		return InsufficientHSMs
	case errors.Is(err, hsm.ErrUnavailable):
		return NetworkErrors
	}
	return InternalError
}

// Live holds the open token connections of this node, by store id. Only
// the node that serves writes (the active node) opens them.
type Live struct {
	mu   sync.Mutex
	open map[string]*hsm.Token
	// ready holds the stores whose connect finished CONNECTED, so that a
	// cryptographic request learns whether its key is usable here without
	// reading the store record (hot paths read no storage).
	ready map[string]bool
}

// NewLive returns an empty set of connections.
func NewLive() *Live { return &Live{open: map[string]*hsm.Token{}, ready: map[string]bool{}} }

// Connect opens the store's token through the connection, replacing a
// connection the store had. The error is the token's; CodeFor names it.
func (l *Live) Connect(ctx context.Context, storeID string, c *Connection) error {
	t, err := hsm.Open(ctx, c.Config())
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.open[storeID]
	l.open[storeID] = t
	delete(l.ready, storeID) // until the store is CONNECTED (MarkReady)
	l.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Disconnect closes the store's connection, if open.
func (l *Live) Disconnect(storeID string) {
	l.mu.Lock()
	t := l.open[storeID]
	delete(l.open, storeID)
	delete(l.ready, storeID)
	l.mu.Unlock()
	if t != nil {
		_ = t.Close()
	}
}

// Token is the store's open connection, if any.
func (l *Live) Token(storeID string) (*hsm.Token, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.open[storeID]
	return t, ok
}

// MarkReady records that the store's connect finished CONNECTED.
func (l *Live) MarkReady(storeID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[storeID]; ok {
		l.ready[storeID] = true
	}
}

// Ready is the token of a CONNECTED store, if this node holds it open:
// what a cryptographic request needs, answered from memory.
func (l *Live) Ready(storeID string) (*hsm.Token, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.open[storeID]
	return t, ok && l.ready[storeID]
}

// CloseAll closes every connection (the backend's Clean).
func (l *Live) CloseAll() {
	l.mu.Lock()
	open := l.open
	l.open, l.ready = map[string]*hsm.Token{}, map[string]bool{}
	l.mu.Unlock()
	for _, t := range open {
		_ = t.Close()
	}
}

// Check logs in to the connection's token with pin (not the connection's
// own) and returns the token's serial number: CreateCustomKeyStore's and
// UpdateCustomKeyStore's KeyStorePassword is proven this way.
func Check(ctx context.Context, c *Connection, pin string) (string, error) {
	cfg := c.Config()
	cfg.PIN, cfg.VerifyPIN = pin, true
	t, err := hsm.Open(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer t.Close()
	return t.Serial(), nil
}
