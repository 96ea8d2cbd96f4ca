package ciphertext

// Format 3: symmetric ciphertext of a key whose AES-256 key lives in a
// PKCS#11 token (a custom key store). The token runs AES-GCM; the plugin
// never holds the key, so format 2's per-message key derivation cannot
// apply (docs/HSM.md, "Nonce bound"). The layout is format 1's:
//
//	0      22   header, format byte 0x03
//	22     12   AES-GCM IV, random, given to the token
//	34     n+16 ciphertext and tag, from the token
//
// The associated data is the 22-byte header followed by the canonical
// encryption context, so the context is bound exactly as for other keys.

// OverheadV3 is how much longer a format 3 blob is than its plaintext.
const OverheadV3 = headerSize + nonceSize + tagSize

// TokenSeal runs AES-GCM in a token: given the associated data and the
// plaintext, it returns the IV it used and ciphertext||tag.
type TokenSeal func(aad, plaintext []byte) (iv, sealed []byte, err error)

// TokenOpen runs AES-GCM decryption in a token. Its errors are passed on
// unchanged, so a caller can tell a token failure from a forged blob.
type TokenOpen func(iv, sealed, aad []byte) ([]byte, error)

// SealToken encrypts plaintext in format 3 through seal.
func SealToken(keyID string, keyVersion uint32, context map[string]string, plaintext []byte, seal TokenSeal) ([]byte, error) {
	out, err := header(version3, keyID, keyVersion, 0, len(plaintext)+OverheadV3)
	if err != nil {
		return nil, err
	}
	iv, sealed, err := seal(associatedData(out, context), plaintext)
	if err != nil {
		return nil, err
	}
	if len(iv) != nonceSize || len(sealed) != len(plaintext)+tagSize {
		return nil, ErrMalformed
	}
	return append(append(out, iv...), sealed...), nil
}

// OpenToken decrypts a format 3 blob through open. A blob of another
// format is ErrAuth: a token key never opens a software key's blob.
func (b *Blob) OpenToken(context map[string]string, open TokenOpen) ([]byte, error) {
	if b.Format != version3 {
		return nil, ErrAuth
	}
	return open(b.raw[headerSize:headerSize+nonceSize], b.raw[headerSize+nonceSize:], associatedData(b.raw[:headerSize], context))
}
