package customkeystore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/hsm"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func create(t *testing.T, r *Registry, s logical.Storage, name, conn string) *Store {
	t.Helper()
	st, err := r.Create(context.Background(), s, CreateInput{Name: name, Connection: conn, TokenSerial: "serial-1"}, t0)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return st
}

func wantKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: %v, want %v", what, err, kind)
	}
}

func TestCreateAndFind(t *testing.T) {
	ctx, s, r := context.Background(), &logical.InmemStorage{}, NewRegistry()
	st := create(t, r, s, "orders", "cluster-softhsmdevtok")
	if !ValidID(st.ID) || st.State != Disconnected || st.WantConnected || st.Type != TypeCloudHSM || !st.CreationDate.Equal(t0) {
		t.Fatalf("new store %+v", st)
	}
	got, err := r.Get(ctx, s, st.ID)
	if err != nil || *got != *st {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if byName, err := r.ByName(ctx, s, "orders"); err != nil || byName.ID != st.ID {
		t.Fatalf("by name: %v", err)
	}
	_, err = r.Create(ctx, s, CreateInput{Name: "orders", Connection: "cluster-otherconnection"}, t0)
	wantKind(t, err, ErrNameInUse, "same name")
	_, err = r.Create(ctx, s, CreateInput{Name: "billing", Connection: "cluster-softhsmdevtok"}, t0)
	wantKind(t, err, ErrConnectionInUse, "same connection")
	for name, in := range map[string]CreateInput{
		"empty name":        {Name: "", Connection: "cluster-abcdefghijk"},
		"long name":         {Name: strings.Repeat("n", 257), Connection: "cluster-abcdefghijk"},
		"connection digits": {Name: "x", Connection: "cluster-0123456789a"},
		"connection short":  {Name: "x", Connection: "cluster-abc"},
		"connection path":   {Name: "x", Connection: "../cluster-abcdefghijk"},
	} {
		_, err := r.Create(ctx, s, in, t0)
		wantKind(t, err, ErrInvalid, name)
		if strings.Contains(err.Error(), in.Connection) && in.Connection != "" {
			t.Errorf("%s: the refusal quotes the value: %v", name, err)
		}
	}
	_, err = r.Get(ctx, s, "cks-00000000000000000")
	wantKind(t, err, ErrNotFound, "unknown id")
	_, err = r.Get(ctx, s, "../key/x")
	wantKind(t, err, ErrNotFound, "malformed id")
	_, err = r.ByName(ctx, s, "nobody")
	wantKind(t, err, ErrNotFound, "unknown name")
}

func TestLimit(t *testing.T) {
	ctx, s := context.Background(), &logical.InmemStorage{}
	r := NewRegistry()
	r.Limit = 2
	create(t, r, s, "a", "cluster-aaaaaaaaaaa")
	create(t, r, s, "b", "cluster-bbbbbbbbbbb")
	_, err := r.Create(ctx, s, CreateInput{Name: "c", Connection: "cluster-ccccccccccc"}, t0)
	wantKind(t, err, ErrLimit, "third store")
	if all, _ := r.List(ctx, s); len(all) != 2 {
		t.Fatalf("%d stores", len(all))
	}
}

// Every transition AWS allows or refuses, from every state.
func TestStateMachine(t *testing.T) {
	all := []State{Connected, Connecting, Disconnected, Disconnecting, Failed}
	connectOK := map[State]bool{Connected: true, Connecting: true, Disconnected: true}
	disconnectOK := map[State]bool{Connected: true, Connecting: true, Failed: true}
	for _, from := range all {
		s := &Store{ID: "cks-1", State: from, ErrorCode: NetworkErrors}
		done, err := s.StartConnect()
		if connectOK[from] != (err == nil) {
			t.Errorf("connect from %s: %v", from, err)
		}
		if err != nil {
			wantKind(t, err, ErrInvalidState, "connect from "+string(from))
			if s.State != from {
				t.Errorf("a refused connect changed %s to %s", from, s.State)
			}
		} else if done != (from != Disconnected) || !s.WantConnected {
			t.Errorf("connect from %s: done %v, want %v", from, done, s.WantConnected)
		}
		s = &Store{ID: "cks-1", State: from}
		err = s.StartDisconnect()
		if disconnectOK[from] != (err == nil) {
			t.Errorf("disconnect from %s: %v", from, err)
		}
		if err == nil && (s.State != Disconnecting || s.WantConnected) {
			t.Errorf("disconnect from %s left %s", from, s.State)
		}
		s = &Store{ID: "cks-1", State: from}
		if (s.CheckUpdatable() == nil) != (from == Disconnected) {
			t.Errorf("update allowed from %s: %v", from, s.CheckUpdatable() == nil)
		}
		if s.Usable() != (from == Connected) {
			t.Errorf("usable in %s", from)
		}
	}

	s := &Store{State: Disconnected}
	if _, err := s.StartConnect(); err != nil || s.State != Connecting || s.ErrorCode != "" {
		t.Fatalf("%+v %v", s, err)
	}
	s.FinishConnect(InvalidCredentials)
	if s.State != Failed || s.ErrorCode != InvalidCredentials {
		t.Fatalf("failed connect: %+v", s)
	}
	if _, err := s.StartConnect(); err == nil {
		t.Fatal("a failed store connected without being disconnected first")
	}
	if err := s.StartDisconnect(); err != nil {
		t.Fatal(err)
	}
	s.FinishDisconnect()
	if s.State != Disconnected || s.ErrorCode != "" {
		t.Fatalf("%+v", s)
	}
	s.StartConnect()
	s.FinishConnect("")
	if s.State != Connected {
		t.Fatalf("%+v", s)
	}
	s.Lost(NetworkErrors)
	if s.State != Failed || s.ErrorCode != NetworkErrors {
		t.Fatalf("lost: %+v", s)
	}
	// A disconnection asked for while connecting wins.
	s = &Store{State: Disconnected}
	s.StartConnect()
	s.WantConnected = false
	s.FinishConnect("")
	if s.State != Disconnected {
		t.Fatalf("%+v", s)
	}
}

func TestChange(t *testing.T) {
	ctx, s, r := context.Background(), &logical.InmemStorage{}, NewRegistry()
	a := create(t, r, s, "a", "cluster-aaaaaaaaaaa")
	create(t, r, s, "b", "cluster-bbbbbbbbbbb")
	_, err := r.Change(ctx, s, a.ID, func(st *Store) error { st.Name = "b"; return nil })
	wantKind(t, err, ErrNameInUse, "rename to a taken name")
	_, err = r.Change(ctx, s, a.ID, func(st *Store) error { st.Connection = "cluster-bbbbbbbbbbb"; return nil })
	wantKind(t, err, ErrConnectionInUse, "move to a used connection")
	_, err = r.Change(ctx, s, a.ID, func(st *Store) error { st.Name = ""; return nil })
	wantKind(t, err, ErrInvalid, "empty name")
	if got, _ := r.Get(ctx, s, a.ID); got.Name != "a" || got.Connection != "cluster-aaaaaaaaaaa" {
		t.Fatalf("a refused change was written: %+v", got)
	}
	got, err := r.Change(ctx, s, a.ID, func(st *Store) error { st.Name = "c"; return nil })
	if err != nil || got.Name != "c" {
		t.Fatal(err)
	}
	if stored, _ := r.Get(ctx, s, a.ID); stored.Name != "c" {
		t.Fatalf("%+v", stored)
	}
	_, err = r.Change(ctx, s, "cks-00000000000000000", func(*Store) error { return nil })
	wantKind(t, err, ErrNotFound, "unknown store")
}

func TestDelete(t *testing.T) {
	ctx, s, r := context.Background(), &logical.InmemStorage{}, NewRegistry()
	st := create(t, r, s, "a", "cluster-aaaaaaaaaaa")
	if err := r.AddKey(ctx, s, st.ID, "1234abcd-12ab-34cd-56ef-1234567890ab"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, r.AddKey(ctx, s, "cks-00000000000000000", "k"), ErrNotFound, "key in an unknown store")
	wantKind(t, r.AddKey(ctx, s, st.ID, "a/b"), ErrInvalid, "key id with a slash")
	if _, err := r.Change(ctx, s, st.ID, func(x *Store) error { _, err := x.StartConnect(); return err }); err != nil {
		t.Fatal(err)
	}
	wantKind(t, r.Delete(ctx, s, st.ID), ErrInvalidState, "delete while connecting")
	if _, err := r.Change(ctx, s, st.ID, func(x *Store) error {
		if err := x.StartDisconnect(); err != nil {
			return err
		}
		x.FinishDisconnect()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, r.Delete(ctx, s, st.ID), ErrHasKeys, "delete with a key")
	wantKind(t, r.DeleteConnection(ctx, s, "cluster-aaaaaaaaaaa"), ErrConnectionInUse, "delete a used connection")
	if err := r.RemoveKey(ctx, s, st.ID, "1234abcd-12ab-34cd-56ef-1234567890ab"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, s, st.ID); err != nil {
		t.Fatal(err)
	}
	_, err := r.Get(ctx, s, st.ID)
	wantKind(t, err, ErrNotFound, "after delete")
	if err := r.DeleteConnection(ctx, s, "cluster-aaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
}

func TestCodeFor(t *testing.T) {
	for class, want := range map[error]ErrorCode{
		hsm.ErrInvalidPIN:    InvalidCredentials,
		hsm.ErrPINLocked:     UserLockedOut,
		hsm.ErrUserLoggedIn:  UserLoggedIn,
		hsm.ErrUserNotFound:  UserNotFound,
		hsm.ErrTokenNotFound: InsufficientHSMs,
		hsm.ErrUnavailable:   NetworkErrors,
		hsm.ErrModule:        InternalError,
		hsm.ErrInternal:      InternalError,
	} {
		if got := CodeFor(&hsm.Error{Op: "open", Class: class}); got != want {
			t.Errorf("%v: %s, want %s", class, got, want)
		}
	}
}

// The stores to connect at start are one entry, kept by Change.
func TestWanted(t *testing.T) {
	ctx, s, r := context.Background(), &logical.InmemStorage{}, NewRegistry()
	a := create(t, r, s, "a", "cluster-aaaaaaaaaaa")
	b := create(t, r, s, "b", "cluster-bbbbbbbbbbb")
	connect := func(id string) {
		if _, err := r.Change(ctx, s, id, func(st *Store) error { _, err := st.StartConnect(); return err }); err != nil {
			t.Fatal(err)
		}
	}
	connect(a.ID)
	connect(b.ID)
	if ids, err := r.Wanted(ctx, s); err != nil || len(ids) != 2 {
		t.Fatalf("wanted %v %v", ids, err)
	}
	if _, err := r.Change(ctx, s, a.ID, func(st *Store) error { return st.StartDisconnect() }); err != nil {
		t.Fatal(err)
	}
	if ids, _ := r.Wanted(ctx, s); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("after disconnecting a: %v", ids)
	}
	// A refused change leaves the index alone.
	_, err := r.Change(ctx, s, b.ID, func(st *Store) error { st.WantConnected = false; return errors.New("no") })
	if err == nil {
		t.Fatal("the change was not refused")
	}
	if ids, _ := r.Wanted(ctx, s); len(ids) != 1 {
		t.Fatalf("a refused change narrowed the index: %v", ids)
	}
}
