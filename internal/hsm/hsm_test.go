package hsm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

// open sets up a fresh SoftHSM token and a connection to it.
func open(t *testing.T, maxSessions int) (*Token, *hsmtest.SoftHSM, hsmtest.Token) {
	t.Helper()
	soft := hsmtest.New(t)
	tok := soft.InitToken(t, "kms-test")
	conn, err := Open(context.Background(), Config{Module: soft.Module, TokenLabel: tok.Label, PIN: tok.PIN, MaxSessions: maxSessions})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, soft, tok
}

func TestGenerateEncryptDecrypt(t *testing.T) {
	conn, _, _ := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-key-1"); err != nil {
		t.Fatal(err)
	}
	if err := conn.GenerateAES256(ctx, "kms-key-1"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second key under one label: %v, want ErrKeyExists", err)
	}
	plain, aad := []byte("attack at dawn"), []byte(`{"app":"orders"}`)
	iv, sealed, err := conn.EncryptGCM(ctx, "kms-key-1", plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(iv) != IVSize || len(sealed) != len(plain)+TagSize || bytes.Contains(sealed, plain) {
		t.Fatalf("iv %d bytes, sealed %d bytes", len(iv), len(sealed))
	}
	got, err := conn.DecryptGCM(ctx, "kms-key-1", iv, sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt: %q, %v", got, err)
	}
	iv2, sealed2, err := conn.EncryptGCM(ctx, "kms-key-1", plain, aad)
	if err != nil || bytes.Equal(iv, iv2) || bytes.Equal(sealed, sealed2) {
		t.Fatalf("a second encryption repeated the IV or ciphertext (%v)", err)
	}

	tampered := append([]byte(nil), sealed...)
	tampered[0] ^= 1
	for name, c := range map[string]struct{ iv, sealed, aad []byte }{
		"wrong aad": {iv, sealed, []byte(`{"app":"billing"}`)},
		"no aad":    {iv, sealed, nil},
		"tampered":  {iv, tampered, aad},
		"other iv":  {iv2, sealed, aad},
		"short":     {iv, sealed[:TagSize-1], aad},
		"short iv":  {iv[:8], sealed, aad},
	} {
		if out, err := conn.DecryptGCM(ctx, "kms-key-1", c.iv, c.sealed, c.aad); !errors.Is(err, ErrDecrypt) || out != nil {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	// Another key cannot open it either.
	if err := conn.GenerateAES256(ctx, "kms-key-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.DecryptGCM(ctx, "kms-key-2", iv, sealed, aad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("other key: %v, want ErrDecrypt", err)
	}
}

func TestKeyNeverLeavesToken(t *testing.T) {
	conn, soft, tok := open(t, 0)
	ctx := context.Background()
	if err := conn.GenerateAES256(ctx, "kms-key-attrs"); err != nil {
		t.Fatal(err)
	}
	a, err := conn.KeyAttributes(ctx, "kms-key-attrs")
	if err != nil {
		t.Fatal(err)
	}
	want := Attributes{Token: true, Sensitive: true, Extractable: false, AlwaysSensitive: true, NeverExtractable: true, ValueLen: KeySize}
	if a != want {
		t.Fatalf("attributes %+v, want %+v", a, want)
	}
	// The token itself refuses to hand out the value.
	err = conn.withKey(ctx, "read value", "kms-key-attrs", func(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) error {
		_, err := conn.ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "CKR_ATTRIBUTE_SENSITIVE") {
		t.Fatalf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}

	// pkcs11-tool, OpenSC's and not ours, sees the same object.
	obj := hsmtest.Object(soft.ListObjects(t, tok), "kms-key-attrs")
	for _, wantText := range []string{"Secret Key Object; AES length 32", "sensitive", "always sensitive", "never extractable", "encrypt", "decrypt"} {
		if !strings.Contains(obj, wantText) {
			t.Errorf("pkcs11-tool listing lacks %q:\n%s", wantText, obj)
		}
	}
	for _, line := range strings.Split(obj, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "Usage:" && f[0] != "Access:") {
			continue
		}
		for _, item := range strings.Split(strings.Join(f[1:], " "), ", ") {
			if item == "extractable" || item == "wrap" || item == "unwrap" {
				t.Errorf("pkcs11-tool lists %q: the key could leave the token:\n%s", item, obj)
			}
		}
	}

	if err := conn.Destroy(ctx, "kms-key-attrs"); err != nil {
		t.Fatal(err)
	}
	if obj := hsmtest.Object(soft.ListObjects(t, tok), "kms-key-attrs"); obj != "" {
		t.Fatalf("pkcs11-tool still lists the destroyed key:\n%s", obj)
	}
	if err := conn.Find(ctx, "kms-key-attrs"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("find after destroy: %v", err)
	}
	if _, _, err := conn.EncryptGCM(ctx, "kms-key-attrs", []byte("x"), nil); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("encrypt after destroy: %v", err)
	}
	if err := conn.Destroy(ctx, "kms-key-attrs"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("second destroy: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	conn, _, _ := open(t, 3)
	ctx := context.Background()
	for _, l := range []string{"kms-c-0", "kms-c-1"} {
		if err := conn.GenerateAES256(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			label := []string{"kms-c-0", "kms-c-1"}[g%2]
			for i := 0; i < 40; i++ {
				msg := []byte{byte(g), byte(i)}
				iv, sealed, err := conn.EncryptGCM(ctx, label, msg, msg)
				if err == nil {
					var got []byte
					got, err = conn.DecryptGCM(ctx, label, iv, sealed, msg)
					if err == nil && !bytes.Equal(got, msg) {
						err = errors.New("round trip changed the message")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			// Generation and destruction race with the crypto of others.
			if err := conn.GenerateAES256(ctx, "kms-g-"+string(rune('a'+g))); err != nil {
				errs <- err
			} else if err := conn.Destroy(ctx, "kms-g-"+string(rune('a'+g))); err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenRefusals(t *testing.T) {
	soft := hsmtest.New(t)
	tok := soft.InitToken(t, "kms-refuse")
	ctx := context.Background()
	wrong := "not-" + tok.PIN
	_, err := Open(ctx, Config{Module: soft.Module, TokenLabel: tok.Label, PIN: wrong})
	if !errors.Is(err, ErrInvalidPIN) || strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), tok.PIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := Open(ctx, Config{Module: soft.Module, TokenLabel: "no-such-token", PIN: tok.PIN}); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	slot := uint(999999)
	if _, err := Open(ctx, Config{Module: soft.Module, Slot: &slot, PIN: tok.PIN}); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("unknown slot: %v", err)
	}
	if _, err := Open(ctx, Config{Module: "/nonexistent/libpkcs11.so", TokenLabel: tok.Label, PIN: tok.PIN}); !errors.Is(err, ErrModule) {
		t.Fatalf("missing module: %v", err)
	}
	if _, err := Open(ctx, Config{Module: soft.Module, TokenLabel: tok.Label, Slot: &slot, PIN: tok.PIN}); !errors.Is(err, ErrConfig) {
		t.Fatalf("label and slot: %v", err)
	}
	// The right PIN still works after the refusals, and by slot too.
	conn, err := Open(ctx, Config{Module: soft.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bySlot, err := Open(ctx, Config{Module: soft.Module, Slot: &conn.slot, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	if err := bySlot.Health(ctx); err != nil {
		t.Fatal(err)
	}
	bySlot.Close()
	if err := conn.Health(ctx); err != nil {
		t.Fatalf("closing one connection broke the other: %v", err)
	}
}

// Login state is the process's: while one connection is logged in, a
// second one's PIN is not checked by the token. VerifyPIN says so instead
// of accepting any PIN.
func TestVerifyPIN(t *testing.T) {
	conn, soft, tok := open(t, 0)
	ctx := context.Background()
	cfg := Config{Module: soft.Module, TokenLabel: tok.Label, PIN: "wrong-" + tok.PIN}
	unchecked, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("without VerifyPIN a second connection shares the login: %v", err)
	}
	if unchecked.Serial() == "" || unchecked.Serial() != conn.Serial() {
		t.Fatalf("serials %q and %q", unchecked.Serial(), conn.Serial())
	}
	unchecked.Close()
	cfg.VerifyPIN = true
	if _, err := Open(ctx, cfg); !errors.Is(err, ErrUserLoggedIn) {
		t.Fatalf("VerifyPIN while logged in: %v, want ErrUserLoggedIn", err)
	}
	conn.Close()
	if _, err := Open(ctx, cfg); !errors.Is(err, ErrInvalidPIN) {
		t.Fatalf("VerifyPIN, wrong PIN: %v, want ErrInvalidPIN", err)
	}
	cfg.PIN = tok.PIN
	verified, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("VerifyPIN, right PIN: %v", err)
	}
	verified.Close()
}
