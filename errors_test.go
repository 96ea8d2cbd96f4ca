package kms

import (
	"context"
	"net/http"
	"testing"

	"github.com/hashicorp/go-multierror"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin/pb"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// vaultStatus is the HTTP status Vault 1.21 sends for what the plugin
// returned: the error crosses the plugin's gRPC boundary (pb), Vault's
// core appends it to a multierror, and its HTTP layer decides
// (http/handler.go respondErrorCommon: RespondErrorCommon, then
// RespondError's AdjustErrorStatusCode).
func vaultStatus(req *logical.Request, resp *logical.Response, err error) int {
	if err != nil {
		err = multierror.Append(nil, pb.ProtoErrToErr(pb.ErrToProtoErr(err)))
	}
	status, err := logical.RespondErrorCommon(req, resp, err)
	if err == nil && status == 0 {
		return http.StatusOK
	}
	logical.AdjustErrorStatusCode(&status, err)
	return status
}

// A storage fault on a Vault-style path is a server fault, 500, with the
// audit event still attached; the plugin answered it with a plain error
// and a response (the event), which Vault answers 400: clients do not
// retry a 400, and a write that may have been committed looked refused.
// The client's own errors keep their 4xx.
func TestServerFaultIs500(t *testing.T) {
	tb := newTestBackend(t)
	fs := withFaults(tb)
	id := tb.createKey(nil)

	fs.arm(1, false) // the first write fails
	req := &logical.Request{Operation: logical.UpdateOperation, Path: "keys", Data: map[string]any{"description": "d"}, Storage: tb.storage}
	resp, err := tb.HandleRequest(context.Background(), req)
	fs.arm(0, false)
	require.ErrorIs(t, err, errInjected)
	var ke *kmserr.Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, kmserr.Internal, ke.Type)
	require.Equal(t, http.StatusInternalServerError, vaultStatus(req, resp, err))
	require.Equal(t, kmserr.Internal, auditOf(t, resp).ErrorCode)

	fs.getPrefix = keystore.KeyPrefix // every key read fails
	req = &logical.Request{Operation: logical.ReadOperation, Path: "keys/" + id, Storage: tb.storage}
	tb.restart()
	resp, err = tb.HandleRequest(context.Background(), req)
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, http.StatusInternalServerError, vaultStatus(req, resp, err))
	fs.getPrefix = ""

	// The client's errors: their AWS status.
	for path, want := range map[string]int{
		"keys/" + id + "/schedule-deletion":            http.StatusBadRequest, // pending_window_days
		"encrypt/1234abcd-12ab-34cd-56ef-1234567890ab": http.StatusNotFound,
	} {
		req = &logical.Request{Operation: logical.UpdateOperation, Path: path, Storage: tb.storage,
			Data: map[string]any{"pending_window_days": "abc", "plaintext": "aGk="}}
		if path != "keys/"+id+"/schedule-deletion" {
			delete(req.Data, "pending_window_days")
		}
		resp, err = tb.HandleRequest(context.Background(), req)
		require.Equal(t, want, vaultStatus(req, resp, err), path)
	}
	// A success stays 200; a call that returns nothing has no data.
	req = &logical.Request{Operation: logical.ReadOperation, Path: "keys/" + id, Storage: tb.storage}
	resp, err = tb.HandleRequest(context.Background(), req)
	require.Equal(t, http.StatusOK, vaultStatus(req, resp, err))
	tb.ok(logical.UpdateOperation, "aliases/alias/gone", map[string]any{"target_key_id": id})
	req = &logical.Request{Operation: logical.DeleteOperation, Path: "aliases/alias/gone", Storage: tb.storage}
	resp, err = tb.HandleRequest(context.Background(), req)
	require.NoError(t, err)
	require.Empty(t, resp.Data, "only the audit header: Vault answers 204")
	require.Equal(t, "DeleteAlias", auditOf(t, resp).EventName)
}
