package hsm

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/miekg/pkcs11"
)

// withKey runs fn with the key's handle. Handles are cached; one that the
// token no longer knows (the object was destroyed elsewhere, or the token
// was re-inserted) is looked up again once.
func (t *Token) withKey(ctx context.Context, op, label string, fn func(pkcs11.SessionHandle, pkcs11.ObjectHandle) error) error {
	if !validLabel(label) {
		return newError(op, ErrKeyNotFound)
	}
	return t.withSession(ctx, op, func(sh pkcs11.SessionHandle) error {
		h, cached := t.cached(label)
		if !cached {
			var err error
			if h, err = t.find(sh, label); err != nil {
				return err
			}
		}
		err := fn(sh, h)
		if cached && isClass(wrap(op, err), ErrKeyNotFound) {
			t.forget(label)
			if h, err = t.find(sh, label); err != nil {
				return err
			}
			err = fn(sh, h)
		}
		return err
	})
}

// find looks the label up in the token and caches the handle.
func (t *Token) find(sh pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := t.ctx.FindObjectsInit(sh, tmpl); err != nil {
		return 0, err
	}
	found, _, err := t.ctx.FindObjects(sh, 2)
	if ferr := t.ctx.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	switch {
	case err != nil:
		return 0, err
	case len(found) == 0:
		return 0, newError("find", ErrKeyNotFound)
	case len(found) > 1:
		// Two objects under one label were not made by this package; using
		// either could encrypt under a key the plugin does not track.
		return 0, newError("find", ErrKeyExists)
	}
	t.remember(label, found[0])
	return found[0], nil
}

func (t *Token) cached(label string) (pkcs11.ObjectHandle, bool) {
	t.keysMu.Lock()
	defer t.keysMu.Unlock()
	h, ok := t.keys[label]
	return h, ok
}

func (t *Token) remember(label string, h pkcs11.ObjectHandle) {
	t.keysMu.Lock()
	t.keys[label] = h
	t.keysMu.Unlock()
}

func (t *Token) forget(label string) {
	t.keysMu.Lock()
	delete(t.keys, label)
	t.keysMu.Unlock()
}

// validLabel keeps labels to printable ASCII of a bounded length: they are
// chosen by the plugin, and a token may mangle anything else.
func validLabel(label string) bool {
	if label == "" || len(label) > maxLabel {
		return false
	}
	for i := 0; i < len(label); i++ {
		if label[i] < 0x21 || label[i] > 0x7e {
			return false
		}
	}
	return true
}

func isClass(err, class error) bool { return err != nil && errors.Is(err, class) }

// bytesToUint reads a CK_ULONG attribute, which is native-endian and as
// wide as the platform's unsigned long.
func bytesToUint(b []byte) (uint64, error) {
	switch len(b) {
	case 8:
		return binary.NativeEndian.Uint64(b), nil
	case 4:
		return uint64(binary.NativeEndian.Uint32(b)), nil
	}
	return 0, errors.New("unexpected attribute size")
}
