// Package hsm is the plugin's connection to a PKCS#11 token: it logs in as
// the crypto user, keeps a pool of sessions that is safe for concurrent use,
// and creates, finds, uses and destroys AES-256 keys that never leave the
// token (CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_TOKEN true).
//
// Encryption is AES-GCM run by the token (CKM_AES_GCM, PKCS#11 2.40): a
// 12-byte IV, a 128-bit tag and the caller's additional authenticated data.
// The IV comes from the plugin (crypto/rand), not the token: PKCS#11 2.40
// has no way to ask a token for the IV it used (that arrived with 3.0's
// message-based API), and every token takes a caller's IV. Random 96-bit IVs
// bound a key to 2^32 encryptions (NIST SP 800-38D, section 8.3) before the
// chance of an IV collision passes 2^-32. Ciphertext format 2's per-message
// HKDF key cannot be used here: deriving it would need the key's bytes or a
// derive mechanism whose output is again a token object, one per message.
//
// Errors carry an operation, a class (ErrInvalidPIN, ErrUnavailable, ...)
// and the PKCS#11 return value's name, and never a PIN, key or data.
package hsm
