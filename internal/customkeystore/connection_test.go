package customkeystore

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/hsm"
	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

func TestConnectionStorage(t *testing.T) {
	ctx, s := context.Background(), &logical.InmemStorage{}
	slot := uint(3)
	c := &Connection{Module: "/usr/lib/softhsm/libsofthsm2.so", Slot: &slot, PIN: "1234"}
	if err := PutConnection(ctx, s, "cluster-abcdefghijk", c); err != nil {
		t.Fatal(err)
	}
	wantKind(t, PutConnection(ctx, s, "../key/x", c), ErrInvalid, "bad name")
	got, err := GetConnection(ctx, s, "cluster-abcdefghijk")
	if err != nil || got.Module != c.Module || *got.Slot != 3 || got.PIN != "1234" {
		t.Fatalf("%+v %v", got, err)
	}
	if none, err := GetConnection(ctx, s, "cluster-nosuchconnec"); none != nil || err != nil {
		t.Fatalf("%+v %v", none, err)
	}
	names, err := ListConnections(ctx, s)
	if err != nil || len(names) != 1 || names[0] != "cluster-abcdefghijk" {
		t.Fatalf("%v %v", names, err)
	}
}

// Connecting, checking a PIN and disconnecting against a real token.
func TestLiveAgainstSoftHSM(t *testing.T) {
	soft := hsmtest.New(t)
	tok := soft.InitToken(t, "kms-live")
	ctx := context.Background()
	c := &Connection{Module: soft.Module, TokenLabel: tok.Label, PIN: tok.PIN}

	serial, err := Check(ctx, c, tok.PIN)
	if err != nil || serial == "" {
		t.Fatalf("check: %q %v", serial, err)
	}
	if _, err := Check(ctx, c, "wrong-"+tok.PIN); CodeFor(err) != InvalidCredentials {
		t.Fatalf("wrong PIN: %v (%s)", err, CodeFor(err))
	}
	live := NewLive()
	t.Cleanup(live.CloseAll)
	if err := live.Connect(ctx, "cks-1", c); err != nil {
		t.Fatal(err)
	}
	tk, ok := live.Token("cks-1")
	if !ok || tk.Health(ctx) != nil || tk.Serial() != serial {
		t.Fatal("no healthy connection after Connect")
	}
	// While connected the token cannot prove a PIN: AWS's USER_LOGGED_IN.
	if _, err := Check(ctx, c, "wrong-"+tok.PIN); CodeFor(err) != UserLoggedIn {
		t.Fatalf("check while connected: %v (%s)", err, CodeFor(err))
	}
	live.Disconnect("cks-1")
	if _, ok := live.Token("cks-1"); ok {
		t.Fatal("still connected")
	}
	if err := tk.Health(ctx); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("health after disconnect: %v", err)
	}
	bad := *c
	bad.TokenLabel = "no-such-token"
	if err := live.Connect(ctx, "cks-2", &bad); CodeFor(err) != InsufficientHSMs {
		t.Fatalf("missing token: %v (%s)", err, CodeFor(err))
	}
}
