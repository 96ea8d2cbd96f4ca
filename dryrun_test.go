package kms

import (
	"context"
	"net/http"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

func TestDryRun(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	doc := policyDoc(t,
		map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("entity:admin"), "Action": actions("*")},
		map[string]any{"Sid": "users", "Effect": "Allow", "Principal": principals("group:payments"), "Action": actions("Encrypt", "Decrypt")},
	)
	id := tb.asOK("admin", logical.UpdateOperation, "keys", map[string]any{"policy": doc})["key_id"].(string)
	enc := map[string]any{"plaintext": b64s("x"), "dry_run": true}

	// Success is DryRunOperationException, HTTP 412, and is not key usage.
	_, err := tb.as("alice", logical.UpdateOperation, "encrypt/"+id, enc)
	ke := requireKMSError(t, err, kmserr.DryRunOperation)
	require.Equal(t, http.StatusPreconditionFailed, ke.Code())
	u, err := tb.keys.LastUse(context.Background(), tb.storage, id)
	require.NoError(t, err)
	require.Nil(t, u, "a dry run is not key usage")

	// A refusal is the real call's: authorization, usage, input, state.
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "encrypt/"+id, enc)
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": "", "dry_run": true})
	tb.asFails(kmserr.InvalidKeyUsage, "alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "dry_run": true,
		"encryption_algorithm": "RSAES_OAEP_SHA_256"})
	tb.asFails(kmserr.InvalidCiphertext, "alice", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": b64s("forged"), "dry_run": true})
	tb.asFails(kmserr.InvalidKeyUsage, "admin", logical.UpdateOperation, "sign/"+id, map[string]any{"message": b64s("m"),
		"signing_algorithm": "ECDSA_SHA_256", "dry_run": true})
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/disable", nil)
	tb.asFails(kmserr.Disabled, "alice", logical.UpdateOperation, "encrypt/"+id, enc)
	tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/enable", nil)

	// A dry run of a real decrypt checks the ciphertext and context, and
	// dry_run false is the real call.
	blob := tb.asOK("alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"),
		"encryption_context": map[string]any{"a": "1"}})["ciphertext_blob"]
	tb.asFails(kmserr.InvalidCiphertext, "alice", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "dry_run": true})
	tb.asFails(kmserr.DryRunOperation, "alice", logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob, "dry_run": true,
		"encryption_context": map[string]any{"a": "1"}})
	require.Contains(t, tb.asOK("alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x"), "dry_run": false}),
		"ciphertext_blob")

	// IGNORE_CIPHERTEXT: access to the named key is checked, the
	// ciphertext is not opened; without a key it cannot check anything.
	ignore := map[string]any{"ciphertext_blob": b64s("forged"), "dry_run": true, "dry_run_modifiers": "IGNORE_CIPHERTEXT"}
	tb.asFails(kmserr.DryRunOperation, "alice", logical.UpdateOperation, "decrypt/"+id, ignore)
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "decrypt/"+id, ignore)
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, "decrypt", ignore)
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, "decrypt/"+id, map[string]any{"ciphertext_blob": blob,
		"dry_run_modifiers": "IGNORE_CIPHERTEXT"})
	tb.asFails(kmserr.Validation, "alice", logical.UpdateOperation, "decrypt/"+id, map[string]any{"ciphertext_blob": blob, "dry_run": true,
		"dry_run_modifiers": "IGNORE_KEY"})
	status, out := tb.awsCall("alice", "aws", "TrentService.Decrypt", map[string]any{"KeyId": id, "CiphertextBlob": b64s("forged"),
		"DryRun": true, "DryRunModifiers": []any{"IGNORE_CIPHERTEXT"}})
	require.Equal(t, http.StatusPreconditionFailed, status, "%v", out)

	// Batch: dry_run applies to every item, each answered on its own.
	res := tb.asOK("alice", logical.UpdateOperation, "encrypt/"+id, map[string]any{"dry_run": true,
		"batch_input": []any{map[string]any{"plaintext": b64s("a")}, map[string]any{"plaintext": ""}}})["batch_results"].([]map[string]any)
	require.Equal(t, kmserr.DryRunOperation, res[0]["error_type"])
	require.Equal(t, kmserr.Validation, res[1]["error_type"])

	// Writes: a dry-run grant is not stored; a dry-run revoke leaves the grant.
	grant := map[string]any{"grantee_principal": "entity:bob", "operations": "Encrypt", "dry_run": true}
	tb.asFails(kmserr.DryRunOperation, "admin", logical.UpdateOperation, "keys/"+id+"/grants", grant)
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "keys/"+id+"/grants", grant)
	require.Empty(t, tb.asOK("admin", logical.ListOperation, "keys/"+id+"/grants", nil)["keys"])
	delete(grant, "dry_run")
	g := tb.asOK("admin", logical.UpdateOperation, "keys/"+id+"/grants", grant)
	tb.asFails(kmserr.DryRunOperation, "admin", logical.DeleteOperation, "keys/"+id+"/grants/"+g["grant_id"].(string), map[string]any{"dry_run": true})
	tb.asFails(kmserr.DryRunOperation, "admin", logical.UpdateOperation, "grants/retire", map[string]any{"grant_token": g["grant_token"], "dry_run": true})
	tb.asOK("bob", logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})

	// Data keys and key agreement take dry_run too.
	tb.asFails(kmserr.DryRunOperation, "admin", logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256", "dry_run": true})
	tb.asFails(kmserr.AccessDenied, "alice", logical.UpdateOperation, "data-key-pair/plaintext/"+id, map[string]any{"key_pair_spec": "ECC_NIST_P256", "dry_run": true})

	// Through the AWS endpoint: HTTP 412 with AWS's exception.
	status, out = tb.awsCall("alice", "aws", "TrentService.Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true})
	require.Equal(t, http.StatusPreconditionFailed, status)
	require.Equal(t, kmserr.DryRunOperation, out["__type"])
	tb.awsFails(kmserr.AccessDenied, "carol", "Encrypt", map[string]any{"KeyId": id, "Plaintext": b64s("x"), "DryRun": true})
}
