package kms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/hsm/hsmtest"
)

// hsmEnv is a SoftHSM2 installation for one test: a shared token that no
// store connects to (so its PIN can always be checked by logging in) and
// tokens to connect stores to, one each. SoftHSM sees only the tokens
// that exist when the library is first loaded, so all are made up front.
type hsmEnv struct {
	soft   *hsmtest.SoftHSM
	shared hsmtest.Token
	spare  []hsmtest.Token
	n      int
}

func newHSMEnv(t testing.TB, tb *testBackend, connectable int) *hsmEnv {
	t.Helper()
	e := &hsmEnv{soft: hsmtest.New(t)}
	e.shared = e.soft.InitToken(t, "kms-shared")
	for i := range connectable {
		e.spare = append(e.spare, e.soft.InitToken(t, "kms-spare-"+string(rune('a'+i))))
	}
	// Close every token connection before the token directory goes, and
	// so the library is unloaded for the next test's tokens.
	t.Cleanup(tb.hsmLive.CloseAll)
	return e
}

// token returns a token no store has connected to yet.
func (e *hsmEnv) token(t testing.TB) hsmtest.Token {
	t.Helper()
	require.NotEmpty(t, e.spare, "the test needs more connectable tokens (newHSMEnv)")
	tok := e.spare[0]
	e.spare = e.spare[1:]
	return tok
}

// name is a fresh connection name: cluster- and 11 letters.
func (e *hsmEnv) name() string {
	e.n++
	b := []byte("hsmconn")
	for i, n := 0, e.n; i < 4; i, n = i+1, n/26 {
		b = append(b, byte('a'+n%26))
	}
	return "cluster-" + string(b)
}

// connection defines an HSM connection to tok and returns its name.
func (e *hsmEnv) connection(tb *testBackend, tok hsmtest.Token) string {
	tb.t.Helper()
	name := e.name()
	tb.ok(logical.UpdateOperation, "config/hsm/"+name, map[string]any{"module_path": e.soft.Module, "token_label": tok.Label, "pin": tok.PIN})
	return name
}

// store creates a custom key store on a new connection to tok.
func (e *hsmEnv) store(tb *testBackend, tok hsmtest.Token) string {
	tb.t.Helper()
	out := tb.ok(logical.UpdateOperation, "custom-key-stores", map[string]any{"custom_key_store_name": e.name() + "-store",
		"cloud_hsm_cluster_id": e.connection(tb, tok), "key_store_password": tok.PIN})
	return out["custom_key_store_id"].(string)
}

// connected creates a store on a spare token and connects it.
func (e *hsmEnv) connected(tb *testBackend) string {
	tb.t.Helper()
	id := e.store(tb, e.token(tb.t))
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)
	require.Equal(tb.t, "CONNECTED", tb.ok(logical.ReadOperation, "custom-key-stores/"+id, nil)["connection_state"])
	return id
}

// testCertPEM is a self-signed certificate, a TrustAnchorCertificate.
func testCertPEM(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hsm-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
