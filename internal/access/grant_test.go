package access

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The index finds the caller's grant for an operation and context, in
// either spelling of the grantee; a removed grant is gone.
func TestGrantIndexFind(t *testing.T) {
	x := NewGrantIndex()
	x.Add(&Grant{GrantID: "g1", GranteePrincipal: "arn:aws:iam::000000000000:user/bob", Operations: []string{"Encrypt"},
		Constraints: &Constraint{Subset: map[string]string{"app": "x"}}})
	x.Add(&Grant{GrantID: "g2", GranteePrincipal: "entity:carol", Operations: []string{"Decrypt", "CreateGrant"}})
	bob, carol := ident("b", "bob"), ident("carol", "carol")
	if g := x.Find(bob, "Encrypt", map[string]string{"app": "x"}, true); g == nil || g.GrantID != "g1" {
		t.Fatalf("bob's grant not found: %v", g)
	}
	for _, c := range []struct {
		op string
		ec map[string]string
	}{{"Encrypt", map[string]string{"app": "y"}}, {"Decrypt", map[string]string{"app": "x"}}} {
		if g := x.Find(bob, c.op, c.ec, true); g != nil {
			t.Fatalf("%s %v found %s", c.op, c.ec, g.GrantID)
		}
	}
	if g := x.Find(carol, "Decrypt", nil, true); g == nil || x.Count() != 2 {
		t.Fatal("carol's grant not found")
	}
	// CreateGrant through a grant: only for the same or fewer operations.
	if id := x.ParentGrant(carol, &Grant{Operations: []string{"Decrypt"}}); id != "g2" {
		t.Fatalf("parent grant %q", id)
	}
	if id := x.ParentGrant(carol, &Grant{Operations: []string{"Encrypt"}}); id != "" {
		t.Fatalf("a wider grant was allowed by %q", id)
	}
	x.Remove("g1")
	if g := x.Find(bob, "Encrypt", map[string]string{"app": "x"}, true); g != nil || x.Get("g1") != nil {
		t.Fatal("a removed grant still counts")
	}
}

// A retiring principal, or a grantee whose grant includes RetireGrant,
// may retire the grant; no one else by standing alone.
func TestRetireStanding(t *testing.T) {
	g := &Grant{GrantID: "g", GranteePrincipal: "entity:b", RetiringPrincipal: "entity:r", Operations: []string{"Encrypt"}}
	if g.RetireStanding(ident("r", "r")) == "" || g.RetireStanding(ident("b", "b")) != "" || g.RetireStanding(ident("x", "x")) != "" {
		t.Fatal("wrong standing without RetireGrant")
	}
	g.Operations = append(g.Operations, "RetireGrant")
	if g.RetireStanding(ident("b", "b")) == "" {
		t.Fatal("the grantee of a grant with RetireGrant has no standing")
	}
}

// A token names its key and grant; an altered one is refused with
// InvalidGrantTokenException, and junk never reaches the MAC.
func TestGrantTokens(t *testing.T) {
	mac := func(fields ...string) string { return "mac(" + fields[0] + "," + fields[1] + ")" }
	tok := GrantToken(&Grant{KeyID: "k", GrantID: "g"}, mac)
	check := func(fields ...string) (string, error) { return mac(fields...), nil }
	if k, g, err := ParseGrantToken(tok, check); err != nil || k != "k" || g != "g" {
		t.Fatalf("got %q %q %v", k, g, err)
	}
	forged := GrantToken(&Grant{KeyID: "k", GrantID: "h"}, func(...string) string { return "mac(k,g)" })
	var ke *kmserr.Error
	if _, _, err := ParseGrantToken(forged, check); !errors.As(err, &ke) || ke.Type != kmserr.InvalidGrantToken {
		t.Fatalf("a forged token: %v", err)
	}
	asked := false
	if _, _, err := ParseGrantToken("not a token", func(...string) (string, error) { asked = true; return "", nil }); err == nil || asked {
		t.Fatal("junk reached the MAC")
	}
}

// Grants round-trip through storage; the retiring index lists a
// principal's grants and forgets deleted ones.
func TestGrantStorage(t *testing.T) {
	ctx, s := context.Background(), &logical.InmemStorage{}
	g := &Grant{GrantID: "g1", KeyID: "k1", GranteePrincipal: "entity:b", RetiringPrincipal: "entity:r", Operations: []string{"Encrypt"}}
	if err := PutGrant(ctx, s, g); err != nil {
		t.Fatal(err)
	}
	x, err := ReadGrants(ctx, s, "k1")
	if err != nil || x.Count() != 1 || x.Get("g1").RetiringPrincipal != "entity:r" {
		t.Fatalf("read back %v %v", x, err)
	}
	g2 := &Grant{GrantID: "g2", KeyID: "k2", GranteePrincipal: "entity:b", RetiringPrincipal: "entity:r"}
	if err := PutGrant(ctx, s, g2); err != nil {
		t.Fatal(err)
	}
	got, err := RetirableGrants(ctx, s, "entity:r")
	if err != nil || len(got) != 2 {
		t.Fatalf("retirable %v %v", got, err)
	}
	if err := DeleteGrant(ctx, s, g, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
	if err := DeleteAllGrants(ctx, s, "k2"); err != nil {
		t.Fatal(err)
	}
	if got, err := RetirableGrants(ctx, s, "entity:r"); err != nil || len(got) != 0 {
		t.Fatalf("deleted grants still retirable: %v %v", got, err)
	}
	if keys, _ := s.List(ctx, RetiringStoragePrefix); len(keys) != 0 {
		t.Fatalf("index entries left: %v", keys)
	}
}
