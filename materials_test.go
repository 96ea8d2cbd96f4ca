package kms

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
	"github.com/stretchr/testify/require"
)

// rotationsOf lists a key's rotations (include_key_material as given),
// keyed by key material id.
func (tb *testBackend) rotationsOf(id, include string) map[string]map[string]any {
	tb.t.Helper()
	d := tb.ok(logical.ListOperation, "keys/"+id+"/rotations", map[string]any{"include_key_material": include})
	out := map[string]map[string]any{}
	infos, _ := d["key_info"].(map[string]any)
	for _, v := range infos {
		m := v.(map[string]any)
		out[m["key_material_id"].(string)] = m
	}
	return out
}

func (tb *testBackend) decryptID(blob any) string {
	tb.t.Helper()
	return tb.ok(logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": blob})["key_material_id"].(string)
}

// TestImportSeveralMaterials walks a symmetric key with imported material
// through AWS's several-materials states: import_type, key_material_id,
// key_material_description, on-demand rotation to pending material,
// include_key_material, key material ids in responses, and the deletion
// of one material.
func TestImportSeveralMaterials(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	m1, m2, m3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	imp := func(m []byte, extra map[string]any) (string, error) {
		resp, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", m, extra)
		if err != nil {
			return "", err
		}
		return resp.Data["key_material_id"].(string), nil
	}
	refused := func(exc string, m []byte, extra map[string]any) string {
		_, err := imp(m, extra)
		return requireKMSError(t, err, exc).Msg
	}
	describe := func() map[string]any { return tb.ok(logical.ReadOperation, "keys/"+id, nil) }

	// EXISTING_KEY_MATERIAL needs material imported before.
	refused(kmserr.IncorrectKeyMaterial, m1, map[string]any{"import_type": "EXISTING_KEY_MATERIAL"})

	// The first import is NEW by default and current.
	id1, err := imp(m1, nil)
	require.NoError(t, err)
	require.Len(t, id1, 64)
	require.Equal(t, id1, describe()["current_key_material_id"])
	require.Equal(t, "Enabled", describe()["key_state"])
	ct1 := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("one")})["ciphertext_blob"]
	require.Equal(t, id1, tb.decryptID(ct1))
	// The same material gets the same id; the id reveals no material.
	again, err := imp(m1, nil)
	require.NoError(t, err)
	require.Equal(t, id1, again)
	require.NotContains(t, id1, strings.Repeat("01", 8))

	// Refusals, before the key changes.
	refused(kmserr.Validation, m2, map[string]any{"import_type": "NEW_KEY_MATERIAL", "key_material_id": id1})
	refused(kmserr.Validation, m2, map[string]any{"import_type": "SOMETIMES"})
	refused(kmserr.Validation, m1, map[string]any{"key_material_id": "abc"})
	refused(kmserr.Validation, m1, map[string]any{"key_material_description": strings.Repeat("d", 257)})
	refused(kmserr.IncorrectKeyMaterial, m1, map[string]any{"import_type": "NEW_KEY_MATERIAL"}) // already the key's
	refused(kmserr.IncorrectKeyMaterial, m2, nil)                                               // EXISTING: must be the current material
	refused(kmserr.IncorrectKeyMaterial, m2, map[string]any{"import_type": "EXISTING_KEY_MATERIAL", "key_material_id": id1})
	refused(kmserr.NotFound, m2, map[string]any{"import_type": "EXISTING_KEY_MATERIAL", "key_material_id": strings.Repeat("0", 64)})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/rotate", nil) // nothing pending

	// NEW material waits, PENDING_ROTATION; the current one still encrypts.
	id2, err := imp(m2, map[string]any{"import_type": "NEW_KEY_MATERIAL", "key_material_description": "second"})
	require.NoError(t, err)
	require.NotEqual(t, id1, id2)
	require.Equal(t, id1, describe()["current_key_material_id"])
	all := tb.rotationsOf(id, "ALL_KEY_MATERIAL")
	require.Len(t, all, 2)
	require.Equal(t, "CURRENT", all[id1]["key_material_state"])
	require.Equal(t, "IMPORTED", all[id1]["import_state"])
	require.NotContains(t, all[id1], "rotation_date", "the first material was not rotated to")
	require.Equal(t, "PENDING_ROTATION", all[id2]["key_material_state"])
	require.Equal(t, "second", all[id2]["key_material_description"])
	require.Equal(t, "KEY_MATERIAL_DOES_NOT_EXPIRE", all[id2]["expiration_model"])
	require.Empty(t, tb.rotationsOf(id, "ROTATIONS_ONLY"))
	tb.fails(kmserr.Validation, logical.ListOperation, "keys/"+id+"/rotations", map[string]any{"include_key_material": "SOME"})
	dk := tb.ok(logical.UpdateOperation, "data-key/plaintext/"+id, map[string]any{"key_spec": "AES_256"})
	require.Equal(t, id1, dk["key_material_id"])

	// On-demand rotation makes the pending material current.
	tb.advance(time.Hour)
	rot := tb.ok(logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	require.Equal(t, id2, rot["key_material_id"])
	require.Equal(t, id2, describe()["current_key_material_id"])
	ct2 := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("two")})["ciphertext_blob"]
	require.Equal(t, id2, tb.decryptID(ct2))
	require.Equal(t, id1, tb.decryptID(ct1), "older material keeps decrypting")
	rots := tb.rotationsOf(id, "ROTATIONS_ONLY")
	require.Len(t, rots, 1)
	require.Equal(t, "ON_DEMAND", rots[id2]["rotation_type"])
	require.Equal(t, tb.now().UTC().Format(time.RFC3339), rots[id2]["rotation_date"])
	all = tb.rotationsOf(id, "ALL_KEY_MATERIAL")
	require.Equal(t, "NON_CURRENT", all[id1]["key_material_state"])
	require.Equal(t, "CURRENT", all[id2]["key_material_state"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	st := tb.ok(logical.ReadOperation, "keys/"+id+"/rotation", nil)
	require.Equal(t, false, st["key_rotation_enabled"])
	require.Equal(t, 24, st["on_demand_rotations_remaining"])
	re := tb.ok(logical.UpdateOperation, "re-encrypt/"+id, map[string]any{"ciphertext_blob": ct1})
	require.Equal(t, id1, re["source_key_material_id"])
	require.Equal(t, id2, re["destination_key_material_id"])

	// Deleting non-current material: the key stays usable, only that
	// material's ciphertext stops decrypting until it is imported again.
	del := tb.ok(logical.DeleteOperation, "keys/"+id+"/import", map[string]any{"key_material_id": id1})
	require.Equal(t, id1, del["key_material_id"])
	require.Equal(t, "Enabled", describe()["key_state"])
	require.Equal(t, "PENDING_IMPORT", tb.rotationsOf(id, "ALL_KEY_MATERIAL")[id1]["import_state"])
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct1})
	require.Equal(t, id2, tb.decryptID(ct2))
	refused(kmserr.IncorrectKeyMaterial, m3, map[string]any{"import_type": "EXISTING_KEY_MATERIAL", "key_material_id": id1})
	_, err = imp(m1, map[string]any{"import_type": "EXISTING_KEY_MATERIAL", "key_material_id": id1})
	require.NoError(t, err)
	require.Equal(t, id1, tb.decryptID(ct1), "re-imported material decrypts again")
	tb.fails(kmserr.NotFound, logical.DeleteOperation, "keys/"+id+"/import", map[string]any{"key_material_id": strings.Repeat("f", 64)})
	tb.fails(kmserr.Validation, logical.DeleteOperation, "keys/"+id+"/import", map[string]any{"key_material_id": "nothex"})

	// Material deleted while pending rotation is no longer the key's: it
	// can come back only as new material.
	id3, err := imp(m3, map[string]any{"import_type": "NEW_KEY_MATERIAL"})
	require.NoError(t, err)
	tb.ok(logical.DeleteOperation, "keys/"+id+"/import", map[string]any{"key_material_id": id3})
	require.NotContains(t, tb.rotationsOf(id, "ALL_KEY_MATERIAL"), id3)
	refused(kmserr.NotFound, m3, map[string]any{"import_type": "EXISTING_KEY_MATERIAL", "key_material_id": id3})
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	again, err = imp(m3, map[string]any{"import_type": "NEW_KEY_MATERIAL"})
	require.NoError(t, err)
	require.Equal(t, id3, again)
	require.Equal(t, "PENDING_ROTATION", tb.rotationsOf(id, "ALL_KEY_MATERIAL")[id3]["key_material_state"])

	// Deleting the current material (the default): PendingImport until the
	// same material comes back; the description is kept.
	del = tb.ok(logical.DeleteOperation, "keys/"+id+"/import", nil)
	require.Equal(t, id2, del["key_material_id"])
	require.Equal(t, "PendingImport", describe()["key_state"])
	tb.fails(kmserr.InvalidState, logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})
	refused(kmserr.IncorrectKeyMaterial, m1, nil)
	_, err = imp(m2, nil)
	require.NoError(t, err)
	require.Equal(t, "Enabled", describe()["key_state"])
	require.Equal(t, "second", tb.rotationsOf(id, "ALL_KEY_MATERIAL")[id2]["key_material_description"])
	require.Equal(t, id2, tb.decryptID(ct2))
}

// TestImportSeveralMaterialsRefusals: asymmetric keys hold one material;
// a caller the key policy does not admit cannot import, delete or rotate.
func TestImportSeveralMaterialsRefusals(t *testing.T) {
	tb := newTestBackend(t)
	withIdentities(tb)
	hmacKey := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "key_spec": "HMAC_256"})["key_id"].(string)
	_, err := tb.importMaterial(hmacKey, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{9}, 32), map[string]any{"import_type": "NEW_KEY_MATERIAL"})
	requireKMSError(t, err, kmserr.Validation)
	_, err = tb.importMaterial(hmacKey, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{9}, 32), nil)
	require.NoError(t, err)
	tb.fails(kmserr.UnsupportedOperation, logical.UpdateOperation, "keys/"+hmacKey+"/rotate", nil)

	doc := policyDoc(t, map[string]any{"Sid": "admin", "Effect": "Allow", "Principal": principals("no_entity"), "Action": actions("*")})
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL", "policy": doc})["key_id"].(string)
	resp, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{1}, 32), nil)
	require.NoError(t, err)
	mid := resp.Data["key_material_id"].(string)
	tb.asFails(kmserr.AccessDenied, "bob", logical.DeleteOperation, "keys/"+id+"/import", map[string]any{"key_material_id": mid})
	tb.asFails(kmserr.AccessDenied, "bob", logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	tb.asFails(kmserr.AccessDenied, "bob", logical.ListOperation, "keys/"+id+"/rotations", map[string]any{"include_key_material": "ALL_KEY_MATERIAL"})
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
}

// TestAWSKMSMaterialIDs: keys with AWS_KMS material name their material
// too, and rotation moves the current id.
func TestAWSKMSMaterialIDs(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.createKey(nil)
	first := tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_material_id"].(string)
	require.Len(t, first, 64)
	ct := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("x")})["ciphertext_blob"]
	require.Equal(t, first, tb.decryptID(ct))
	second := tb.ok(logical.UpdateOperation, "keys/"+id+"/rotate", nil)["key_material_id"].(string)
	require.NotEqual(t, first, second)
	require.Equal(t, second, tb.ok(logical.ReadOperation, "keys/"+id, nil)["current_key_material_id"])
	rots := tb.rotationsOf(id, "ROTATIONS_ONLY")
	require.Len(t, rots, 1)
	require.Equal(t, "CURRENT", rots[second]["key_material_state"])
	require.NotContains(t, rots[second], "import_state")
	all := tb.rotationsOf(id, "ALL_KEY_MATERIAL")
	require.Equal(t, "NON_CURRENT", all[first]["key_material_state"])
	// Asymmetric keys have no current key material id (as in AWS).
	rsa := tb.createKey(map[string]any{"key_spec": "RSA_2048", "key_usage": "ENCRYPT_DECRYPT"})
	require.NotContains(t, tb.ok(logical.ReadOperation, "keys/"+rsa, nil), "current_key_material_id")
}

// TestMaterialAppendOnly: putKey lets imported material go and come back,
// but only the material its id names; AWS_KMS material never goes.
func TestMaterialAppendOnly(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	_, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{1}, 32), nil)
	require.NoError(t, err)
	e := tb.mustKey(id).Clone()
	stored := e.Versions[0].Material
	e.Versions[0].Material = bytes.Repeat([]byte{7}, 32)
	require.ErrorContains(t, tb.keys.Put(ctx, tb.storage, e), "replace")
	e.Versions[0].Material, e.Versions[0].MaterialID = nil, strings.Repeat("a", 64)
	require.ErrorContains(t, tb.keys.Put(ctx, tb.storage, e), "rename")
	e.Versions[0].MaterialID = tb.mustKey(id).Versions[0].MaterialID
	require.NoError(t, tb.keys.Put(ctx, tb.storage, e), "deleting imported material")
	e = tb.mustKey(id).Clone()
	e.Versions[0].Material = bytes.Repeat([]byte{7}, 32)
	require.ErrorContains(t, tb.keys.Put(ctx, tb.storage, e), "deleted")
	e.Versions[0].Material = stored
	require.NoError(t, tb.keys.Put(ctx, tb.storage, e), "the same material comes back")

	k := tb.createKey(nil)
	a := tb.mustKey(k).Clone()
	a.Versions[0].Material = nil
	require.ErrorContains(t, tb.keys.Put(ctx, tb.storage, a), "drop")
}

// TestImportDeletedMaterialIsStoredByID: deleted imported material is
// remembered by its version's material id alone (the pre-release key-level
// material_fingerprint is gone from storage, issue 23), and that id still
// lets the same material come back, and no other.
func TestImportDeletedMaterialIsStoredByID(t *testing.T) {
	tb := newTestBackend(t)
	ctx := context.Background()
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	m := bytes.Repeat([]byte{4}, 32)
	resp, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", m, nil)
	require.NoError(t, err)
	mid := resp.Data["key_material_id"].(string)
	tb.ok(logical.DeleteOperation, "keys/"+id+"/import", nil)
	raw, err := tb.storage.Get(ctx, keystore.KeyPrefix+id)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, raw.DecodeJSON(&stored))
	require.NotContains(t, stored, "material_fingerprint")
	tb.keys.Keys.Invalidate(id) // read it back from storage

	_, err = tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{5}, 32), nil)
	requireKMSError(t, err, kmserr.IncorrectKeyMaterial)
	resp, err = tb.importMaterial(id, "RSAES_OAEP_SHA_256", m, nil)
	require.NoError(t, err)
	require.Equal(t, mid, resp.Data["key_material_id"])
	require.Equal(t, "Enabled", resp.Data["key_state"])
}

// TestImportSeveralMaterialsExpire: each material expires on its own
// valid_to. Expired non-current material stops decrypting while the key
// stays Enabled; expired current material sends the key to PendingImport.
func TestImportSeveralMaterialsExpire(t *testing.T) {
	tb := newTestBackend(t)
	id := tb.ok(logical.UpdateOperation, "keys", map[string]any{"origin": "EXTERNAL"})["key_id"].(string)
	expires := func(d time.Duration) map[string]any {
		return map[string]any{"expiration_model": "KEY_MATERIAL_EXPIRES", "valid_to": tb.now().Add(d).Format(time.RFC3339)}
	}
	r1, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{1}, 32), expires(2*time.Hour))
	require.NoError(t, err)
	id1 := r1.Data["key_material_id"].(string)
	ct1 := tb.ok(logical.UpdateOperation, "encrypt/"+id, map[string]any{"plaintext": b64s("one")})["ciphertext_blob"]
	extra := expires(4 * time.Hour)
	extra["import_type"] = "NEW_KEY_MATERIAL"
	r2, err := tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{2}, 32), extra)
	require.NoError(t, err)
	id2 := r2.Data["key_material_id"].(string)
	tb.ok(logical.UpdateOperation, "keys/"+id+"/rotate", nil)
	require.Equal(t, tb.now().Add(4*time.Hour).UTC().Format(time.RFC3339), tb.ok(logical.ReadOperation, "keys/"+id, nil)["valid_to"],
		"the key's valid_to is its current material's")

	tb.advance(3 * time.Hour)
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct1}) // before the sweep
	tb.runPeriodic()
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	require.Equal(t, "PENDING_IMPORT", tb.rotationsOf(id, "ALL_KEY_MATERIAL")[id1]["import_state"])
	tb.fails(kmserr.InvalidCiphertext, logical.UpdateOperation, "decrypt", map[string]any{"ciphertext_blob": ct1})

	tb.advance(2 * time.Hour)
	tb.runPeriodic()
	require.Equal(t, "PendingImport", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	require.Equal(t, "PENDING_IMPORT", tb.rotationsOf(id, "ALL_KEY_MATERIAL")[id2]["import_state"])
	_, err = tb.importMaterial(id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{2}, 32), nil)
	require.NoError(t, err)
	require.Equal(t, "Enabled", tb.ok(logical.ReadOperation, "keys/"+id, nil)["key_state"])
	require.NotContains(t, tb.ok(logical.ReadOperation, "keys/"+id, nil), "valid_to")
}
