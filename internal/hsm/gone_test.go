package hsm

import (
	"context"
	"errors"
	"os"
	"testing"
)

// Sessions closed under the connection (a network HSM dropping its
// connections does this): the next call opens a fresh session, logs in
// again and succeeds.
func TestSessionsClosedUnderneath(t *testing.T) {
	conn, _, _ := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-k"); err != nil {
		t.Fatal(err)
	}
	iv, sealed, err := conn.EncryptGCM(ctx, "kms-k", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.ctx.CloseAllSessions(conn.slot); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.DecryptGCM(ctx, "kms-k", iv, sealed, nil); err != nil {
		t.Fatalf("after the sessions were closed: %v", err)
	}
	if err := conn.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

// The library finalised under the connection: every call is an
// ErrUnavailable error, never a panic; Close still works.
func TestModuleFinalisedUnderneath(t *testing.T) {
	conn, _, _ := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-k"); err != nil {
		t.Fatal(err)
	}
	if err := conn.ctx.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.EncryptGCM(ctx, "kms-k", []byte("x"), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("encrypt: %v, want ErrUnavailable", err)
	}
	if err := conn.Health(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("health: %v, want ErrUnavailable", err)
	}
	if err := conn.GenerateAES256(ctx, "kms-k2"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("generate: %v, want ErrUnavailable", err)
	}
}

// The token deleted by its operator while connected.
func TestTokenDeletedUnderneath(t *testing.T) {
	conn, soft, tok := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-k"); err != nil {
		t.Fatal(err)
	}
	soft.DeleteToken(t, tok.Label)
	_, _, err := conn.EncryptGCM(ctx, "kms-k", []byte("x"), nil)
	t.Logf("encrypt after the token was deleted: %v", err)
	if !errors.Is(err, ErrKeyNotFound) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("encrypt with a deleted token: %v, want ErrKeyNotFound or ErrUnavailable", err)
	}
}

// After Close every call fails with ErrClosed, and with the configuration
// gone a new connection cannot load the token.
func TestClosedAndConfigGone(t *testing.T) {
	conn, soft, tok := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-k"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.EncryptGCM(ctx, "kms-k", []byte("x"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("encrypt after close: %v", err)
	}
	if err := conn.Health(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("health after close: %v", err)
	}
	if err := os.Remove(soft.Conf); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, Config{Module: soft.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if !errors.Is(err, ErrModule) {
		t.Fatalf("open without a configuration: %v, want ErrModule", err)
	}
}
