package kms

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/openkms/vault-plugin-kms/internal/customkeystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// HSM connections: operator-only (sudo), the PIN checked by logging in,
// write-only and seal-wrapped.
func TestHSMConnections(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 0)
	sp := tb.SpecialPaths()
	require.Contains(t, sp.Root, "config/hsm/*", "defining a connection loads a library: sudo")
	require.Contains(t, sp.Root, "config/hsm", "listing connections: sudo")
	require.Contains(t, sp.SealWrapStorage, customkeystore.ConnectionPrefix, "connections hold the PIN")

	tok := env.shared
	name := env.connection(tb, tok)
	got := tb.ok(logical.ReadOperation, "config/hsm/"+name, nil)
	require.Equal(t, env.soft.Module, got["module_path"])
	require.Equal(t, tok.Label, got["token_label"])
	raw, _ := json.Marshal(got)
	require.NotContains(t, string(raw), tok.PIN, "the PIN is never returned")
	require.NotContains(t, got, "pin")
	require.Equal(t, []string{name}, tb.ok(logical.ListOperation, "config/hsm/", nil)["keys"])

	base := map[string]any{"module_path": env.soft.Module, "token_label": tok.Label, "pin": tok.PIN}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	other := env.name()
	ke := tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("pin", "wrong-"+tok.PIN))
	require.NotContains(t, ke.Msg, tok.PIN)
	require.Contains(t, ke.Msg, "INVALID_CREDENTIALS")
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("pin", nil))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("module_path", "libsofthsm2.so"))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("module_path", "/nonexistent/lib.so"))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("slot", 1))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/"+other, with("token_label", nil))
	tb.fails(kmserr.CloudHsmClusterNotActive, logical.UpdateOperation, "config/hsm/"+other, with("token_label", "no-such-token"))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "config/hsm/not-a-cluster-name", base)
	tb.fails(kmserr.CloudHsmClusterNotFound, logical.ReadOperation, "config/hsm/"+other, nil)
	require.Equal(t, []string{name}, tb.ok(logical.ListOperation, "config/hsm/", nil)["keys"], "nothing refused was stored")

	// An update keeps the PIN when none is given.
	tb.ok(logical.UpdateOperation, "config/hsm/"+name, map[string]any{"token_label": tok.Label})
	c, err := customkeystore.GetConnection(context.Background(), tb.storage, name)
	require.NoError(t, err)
	require.Equal(t, tok.PIN, c.PIN)

	tb.ok(logical.DeleteOperation, "config/hsm/"+name, nil)
	tb.fails(kmserr.CloudHsmClusterNotFound, logical.ReadOperation, "config/hsm/"+name, nil)
}

// createInput is a CreateCustomKeyStore on conn with tok's PIN, changed by
// extra.
func createInput(conn, pin string, extra map[string]any) map[string]any {
	m := map[string]any{"custom_key_store_name": "orders", "cloud_hsm_cluster_id": conn, "key_store_password": pin}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestCustomKeyStoreCreateRefusals(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 0)
	tok := env.shared
	conn := env.connection(tb, tok)
	create := func(extra map[string]any) map[string]any { return createInput(conn, tok.PIN, extra) }
	ke := tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"key_store_password": "wrong-" + tok.PIN}))
	require.NotContains(t, ke.Msg, tok.PIN)
	tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"key_store_password": "short"}))
	tb.fails(kmserr.CloudHsmClusterNotFound, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"cloud_hsm_cluster_id": env.name()}))
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"custom_key_store_type": "EXTERNAL_KEY_STORE"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"custom_key_store_type": "OTHER"}))
	tb.fails(kmserr.IncorrectTrustAnchor, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"trust_anchor_certificate": "not a certificate"}))
	tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"custom_key_store_name": ""}))
	require.Empty(t, tb.ok(logical.ListOperation, "custom-key-stores/", nil)["keys"], "nothing refused was stored")
}

func TestCustomKeyStoreLifecycle(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 1)
	tok := env.token(t)
	conn := env.connection(tb, tok)
	create := func(extra map[string]any) map[string]any { return createInput(conn, tok.PIN, extra) }
	cert := testCertPEM(t)
	st := tb.ok(logical.UpdateOperation, "custom-key-stores", create(map[string]any{"trust_anchor_certificate": cert}))
	id := st["custom_key_store_id"].(string)
	require.Regexp(t, `^cks-[0-9a-f]{17}$`, id)
	require.Equal(t, "DISCONNECTED", st["connection_state"])
	require.Equal(t, "AWS_CLOUDHSM", st["custom_key_store_type"])
	require.Equal(t, conn, st["cloud_hsm_cluster_id"])
	require.Equal(t, cert, st["trust_anchor_certificate"])
	raw, _ := json.Marshal(st)
	require.NotContains(t, string(raw), tok.PIN)

	tb.fails(kmserr.CustomKeyStoreNameInUse, logical.UpdateOperation, "custom-key-stores",
		create(map[string]any{"cloud_hsm_cluster_id": env.connection(tb, env.shared), "key_store_password": env.shared.PIN}))
	tb.fails(kmserr.CloudHsmClusterInUse, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"custom_key_store_name": "other"}))
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.ReadOperation, "custom-key-stores/cks-00000000000000000", nil)
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.ReadOperation, "custom-key-stores/nonsense", nil)

	// Connected: in use, not changeable, not deletable.
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)
	require.Equal(t, "CONNECTED", tb.ok(logical.ReadOperation, "custom-key-stores/"+id, nil)["connection_state"])
	live, ok := tb.hsmLive.Token(id)
	require.True(t, ok)
	require.NoError(t, live.Health(context.Background()))
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil) // already connected: success
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.UpdateOperation, "custom-key-stores/"+id, map[string]any{"new_custom_key_store_name": "x"})
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.DeleteOperation, "custom-key-stores/"+id, nil)
	tb.fails(kmserr.CloudHsmClusterInUse, logical.DeleteOperation, "config/hsm/"+conn, nil)
	// The connection's token is logged in now: a second store on it is
	// refused as in use before any login is tried (the login would fail
	// with USER_LOGGED_IN and hide why). Found by a new user's walkthrough.
	tb.fails(kmserr.CloudHsmClusterInUse, logical.UpdateOperation, "custom-key-stores", create(map[string]any{"custom_key_store_name": "other"}))

	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/disconnect", nil)
	require.Equal(t, "DISCONNECTED", tb.ok(logical.ReadOperation, "custom-key-stores/"+id, nil)["connection_state"])
	_, ok = tb.hsmLive.Token(id)
	require.False(t, ok, "disconnecting closes the token connection")
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.UpdateOperation, "custom-key-stores/"+id+"/disconnect", nil)

	// Updates while disconnected: a name, the PIN, a connection to the
	// same token; never a connection to another token.
	tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores/"+id, nil)
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id, map[string]any{"new_custom_key_store_name": "renamed", "key_store_password": tok.PIN})
	tb.fails(kmserr.Validation, logical.UpdateOperation, "custom-key-stores/"+id, map[string]any{"key_store_password": "wrong-" + tok.PIN})
	tb.fails(kmserr.CloudHsmClusterNotRelated, logical.UpdateOperation, "custom-key-stores/"+id,
		map[string]any{"cloud_hsm_cluster_id": env.connection(tb, env.shared)})
	second := env.connection(tb, tok)
	got := tb.ok(logical.UpdateOperation, "custom-key-stores/"+id, map[string]any{"cloud_hsm_cluster_id": second})
	require.Equal(t, "renamed", got["custom_key_store_name"])
	require.Equal(t, second, got["cloud_hsm_cluster_id"])

	// Describe: all, by id, by name, paged.
	other := env.store(tb, env.shared)
	list := tb.ok(logical.ListOperation, "custom-key-stores/", nil)
	require.ElementsMatch(t, []string{id, other}, list["keys"])
	page1 := tb.ok(logical.ListOperation, "custom-key-stores/", map[string]any{"limit": 1})
	require.Equal(t, true, page1["truncated"])
	page2 := tb.ok(logical.ListOperation, "custom-key-stores/", map[string]any{"limit": 1, "after": page1["next_marker"]})
	require.ElementsMatch(t, []string{id, other}, append(page1["keys"].([]string), page2["keys"].([]string)...))
	byName := tb.ok(logical.ListOperation, "custom-key-stores/", map[string]any{"custom_key_store_name": "renamed"})
	require.Equal(t, []string{id}, byName["keys"])
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.ListOperation, "custom-key-stores/", map[string]any{"custom_key_store_name": "nobody"})

	// A store holding keys cannot be deleted.
	require.NoError(t, tb.cks.AddKey(context.Background(), tb.storage, id, "1234abcd-12ab-34cd-56ef-1234567890ab"))
	tb.fails(kmserr.CustomKeyStoreHasCMKs, logical.DeleteOperation, "custom-key-stores/"+id, nil)
	require.NoError(t, tb.cks.RemoveKey(context.Background(), tb.storage, id, "1234abcd-12ab-34cd-56ef-1234567890ab"))
	tb.ok(logical.DeleteOperation, "custom-key-stores/"+id, nil)
	tb.fails(kmserr.CustomKeyStoreNotFound, logical.ReadOperation, "custom-key-stores/"+id, nil)
	tb.ok(logical.DeleteOperation, "config/hsm/"+conn, nil)
}

// A connection that no longer works leaves the store FAILED with AWS's
// code, recoverable by disconnecting, fixing and connecting again.
func TestCustomKeyStoreConnectFailures(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 2)
	ctx := context.Background()
	tok := env.token(t)
	conn := env.connection(tb, tok)
	id := tb.ok(logical.UpdateOperation, "custom-key-stores", map[string]any{"custom_key_store_name": "s",
		"cloud_hsm_cluster_id": conn, "key_store_password": tok.PIN})["custom_key_store_id"].(string)
	state := func() (any, any) {
		d := tb.ok(logical.ReadOperation, "custom-key-stores/"+id, nil)
		return d["connection_state"], d["connection_error_code"]
	}

	// The PIN changed on the token (written past the check, as an
	// operator's old connection would be).
	c, err := customkeystore.GetConnection(ctx, tb.storage, conn)
	require.NoError(t, err)
	good := *c
	c.PIN = "changed-" + c.PIN
	require.NoError(t, customkeystore.PutConnection(ctx, tb.storage, conn, c))
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)
	s, code := state()
	require.Equal(t, "FAILED", s)
	require.Equal(t, "INVALID_CREDENTIALS", code)
	_, open := tb.hsmLive.Token(id)
	require.False(t, open)
	tb.fails(kmserr.CustomKeyStoreInvalidState, logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)

	// The connection now leads to another token.
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/disconnect", nil)
	other := env.token(t)
	tb.ok(logical.UpdateOperation, "config/hsm/"+conn, map[string]any{"token_label": other.Label, "pin": other.PIN})
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)
	s, code = state()
	require.Equal(t, "FAILED", s)
	require.Equal(t, "CLUSTER_NOT_FOUND", code)
	_, open = tb.hsmLive.Token(id)
	require.False(t, open, "no connection to a token that is not the store's")

	// Fixed: connects again.
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/disconnect", nil)
	require.NoError(t, customkeystore.PutConnection(ctx, tb.storage, conn, &good))
	tb.ok(logical.UpdateOperation, "custom-key-stores/"+id+"/connect", nil)
	s, code = state()
	require.Equal(t, "CONNECTED", s)
	require.Nil(t, code)
}

// The node that becomes active (a restart, a failover) connects the
// stores an operator connected; a failed one stays failed.
func TestCustomKeyStoreReconnectsAtStart(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 1)
	id := env.connected(tb)
	idle := env.store(tb, env.shared)
	tb.hsmLive.CloseAll() // the old process is gone

	conf := logical.TestBackendConfig()
	conf.StorageView = tb.storage
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	next := raw.(*backend)
	t.Cleanup(next.hsmLive.CloseAll)
	require.NoError(t, next.Initialize(context.Background(), &logical.InitializationRequest{Storage: tb.storage}))
	tok, ok := next.hsmLive.Token(id)
	require.True(t, ok, "the connected store is connected on the new active node")
	require.NoError(t, tok.Health(context.Background()))
	_, ok = next.hsmLive.Token(idle)
	require.False(t, ok, "a disconnected store stays disconnected")
	st, err := next.cks.Get(context.Background(), tb.storage, id)
	require.NoError(t, err)
	require.Equal(t, customkeystore.Connected, st.State)
}

// The AWS protocol: the six operations answer with AWS's shapes and
// exceptions instead of UnsupportedOperationException.
func TestAWSCustomKeyStores(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 1)
	tok := env.token(t)
	conn := env.connection(tb, tok)
	cert := testCertPEM(t)
	out := tb.aws("", "CreateCustomKeyStore", map[string]any{"CustomKeyStoreName": "aws-store", "CloudHsmClusterId": conn,
		"KeyStorePassword": tok.PIN, "TrustAnchorCertificate": cert, "CustomKeyStoreType": "AWS_CLOUDHSM"})
	id := out["CustomKeyStoreId"].(string)
	require.Regexp(t, `^cks-[0-9a-f]{17}$`, id)
	tb.awsFails(kmserr.CustomKeyStoreNameInUse, "", "CreateCustomKeyStore", map[string]any{"CustomKeyStoreName": "aws-store",
		"CloudHsmClusterId": env.connection(tb, env.shared), "KeyStorePassword": env.shared.PIN})
	msg := tb.awsFails(kmserr.UnsupportedOperation, "", "CreateCustomKeyStore", map[string]any{"CustomKeyStoreName": "x",
		"CustomKeyStoreType": "EXTERNAL_KEY_STORE", "XksProxyUriEndpoint": "https://xks.example"})
	require.Contains(t, msg, "XksProxyUriEndpoint")

	desc := tb.aws("", "DescribeCustomKeyStores", map[string]any{"CustomKeyStoreId": id})
	stores := desc["CustomKeyStores"].([]any)
	require.Len(t, stores, 1)
	e := stores[0].(map[string]any)
	require.Equal(t, "aws-store", e["CustomKeyStoreName"])
	require.Equal(t, conn, e["CloudHsmClusterId"])
	require.Equal(t, "DISCONNECTED", e["ConnectionState"])
	require.Equal(t, "AWS_CLOUDHSM", e["CustomKeyStoreType"])
	require.Equal(t, cert, e["TrustAnchorCertificate"])
	require.IsType(t, float64(0), e["CreationDate"], "epoch seconds")
	require.Equal(t, false, desc["Truncated"])
	byName := tb.aws("", "DescribeCustomKeyStores", map[string]any{"CustomKeyStoreName": "aws-store", "Limit": 1})
	require.Len(t, byName["CustomKeyStores"], 1)
	env.store(tb, env.shared)
	paged := tb.aws("", "DescribeCustomKeyStores", map[string]any{"Limit": 1})
	require.Equal(t, true, paged["Truncated"])
	rest := tb.aws("", "DescribeCustomKeyStores", map[string]any{"Limit": 1, "Marker": paged["NextMarker"]})
	require.Len(t, rest["CustomKeyStores"], 1)
	tb.awsFails(kmserr.CustomKeyStoreNotFound, "", "DescribeCustomKeyStores", map[string]any{"CustomKeyStoreId": "cks-00000000000000000"})

	tb.aws("", "ConnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id})
	e = tb.aws("", "DescribeCustomKeyStores", map[string]any{"CustomKeyStoreId": id})["CustomKeyStores"].([]any)[0].(map[string]any)
	require.Equal(t, "CONNECTED", e["ConnectionState"])
	tb.awsFails(kmserr.CustomKeyStoreInvalidState, "", "UpdateCustomKeyStore", map[string]any{"CustomKeyStoreId": id, "NewCustomKeyStoreName": "n"})
	tb.awsFails(kmserr.CustomKeyStoreInvalidState, "", "DeleteCustomKeyStore", map[string]any{"CustomKeyStoreId": id})
	tb.aws("", "DisconnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id})
	tb.awsFails(kmserr.CustomKeyStoreInvalidState, "", "DisconnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id})
	tb.aws("", "UpdateCustomKeyStore", map[string]any{"CustomKeyStoreId": id, "NewCustomKeyStoreName": "renamed",
		"KeyStorePassword": tok.PIN, "CloudHsmClusterId": env.connection(tb, tok)})
	tb.awsFails(kmserr.CloudHsmClusterNotRelated, "", "UpdateCustomKeyStore", map[string]any{"CustomKeyStoreId": id,
		"CloudHsmClusterId": env.connection(tb, env.shared)})
	tb.aws("", "DeleteCustomKeyStore", map[string]any{"CustomKeyStoreId": id})
	tb.awsFails(kmserr.CustomKeyStoreNotFound, "", "ConnectCustomKeyStore", map[string]any{"CustomKeyStoreId": id})

	// CreateKey in a deleted store; GenerateRandom still refuses
	// CustomKeyStoreId.
	tb.awsFails(kmserr.CustomKeyStoreNotFound, "", "CreateKey", map[string]any{"CustomKeyStoreId": id, "Origin": "AWS_CLOUDHSM"})
	msg = tb.awsFails(kmserr.UnsupportedOperation, "", "GenerateRandom", map[string]any{"CustomKeyStoreId": id, "NumberOfBytes": 8})
	require.True(t, strings.Contains(msg, "CustomKeyStoreId"), msg)
}

// The audit record names the store and its connection, never the PIN.
func TestCustomKeyStoreAudit(t *testing.T) {
	tb := newTestBackend(t)
	env := newHSMEnv(t, tb, 0)
	tok := env.shared
	name := env.name()
	resp, err := tb.do(logical.UpdateOperation, "config/hsm/"+name, map[string]any{"module_path": env.soft.Module,
		"token_label": tok.Label, "pin": tok.PIN})
	require.NoError(t, err)
	audit := auditRaw(t, resp)
	require.NotContains(t, audit, tok.PIN)
	require.Contains(t, audit, `"token_label":"`+tok.Label+`"`)

	resp, err = tb.do(logical.UpdateOperation, "custom-key-stores", createInput(name, tok.PIN, nil))
	require.NoError(t, err)
	ev := auditOf(t, resp)
	require.Equal(t, "CreateCustomKeyStore", ev.EventName)
	require.Equal(t, name, ev.RequestParameters["cloud_hsm_cluster_id"])
	require.Equal(t, "orders", ev.RequestParameters["custom_key_store_name"])
	require.NotContains(t, ev.RequestParameters, "key_store_password")
	require.Equal(t, resp.Data["custom_key_store_id"], ev.ResponseElements["custom_key_store_id"])
	require.NotContains(t, auditRaw(t, resp), tok.PIN)
}
