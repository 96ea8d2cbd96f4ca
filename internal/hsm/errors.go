package hsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// The classes of failure a caller acts on. Every error this package returns
// wraps exactly one of them (errors.Is), so the plugin can map a token's
// failure to AWS's ConnectionErrorCode or exception without parsing text.
var (
	// ErrConfig: the connection's settings are incomplete or contradictory.
	ErrConfig = errors.New("invalid connection settings")
	// ErrModule: the PKCS#11 library could not be loaded or initialised.
	ErrModule = errors.New("PKCS#11 module unavailable")
	// ErrTokenNotFound: no token with the configured label or slot.
	ErrTokenNotFound = errors.New("token not found")
	// ErrInvalidPIN: the token refused the crypto user's PIN.
	ErrInvalidPIN = errors.New("token refused the PIN")
	// ErrPINLocked: the token locked the user after failed logins.
	ErrPINLocked = errors.New("token PIN is locked")
	// ErrUserLoggedIn: another user (the security officer, or this process
	// through another connection) is logged in, so the PIN cannot be
	// checked by logging in.
	ErrUserLoggedIn = errors.New("another session is logged in to the token")
	// ErrUserNotFound: the token has no crypto user PIN set.
	ErrUserNotFound = errors.New("token has no user PIN")
	// ErrUnavailable: the token or its sessions went away (removed, closed,
	// finalised, device error); a later call may succeed after reconnecting.
	ErrUnavailable = errors.New("token unavailable")
	// ErrClosed: the connection was closed by the plugin.
	ErrClosed = errors.New("connection closed")
	// ErrKeyNotFound: no key object with that label.
	ErrKeyNotFound = errors.New("key object not found")
	// ErrKeyExists: a key object with that label already exists.
	ErrKeyExists = errors.New("key object already exists")
	// ErrDecrypt: the ciphertext, IV, tag or AAD does not authenticate.
	ErrDecrypt = errors.New("ciphertext does not authenticate")
	// ErrUnsupported: the token lacks a mechanism this package needs.
	ErrUnsupported = errors.New("token does not support the operation")
	// ErrInternal: any other failure of the token.
	ErrInternal = errors.New("token error")
)

// Error is a failed token call: the operation, the class and the PKCS#11
// return value's name. It never holds a PIN, a key or data.
type Error struct {
	Op    string
	Class error
	CKR   string // e.g. "CKR_PIN_INCORRECT"; empty when not from the token
}

func (e *Error) Error() string {
	if e.CKR == "" {
		return fmt.Sprintf("hsm: %s: %v", e.Op, e.Class)
	}
	return fmt.Sprintf("hsm: %s: %v (%s)", e.Op, e.Class, e.CKR)
}

func (e *Error) Unwrap() error { return e.Class }

func newError(op string, class error) error { return &Error{Op: op, Class: class} }

// wrap classifies a PKCS#11 failure. A non-PKCS#11 error (there should be
// none) is classed internal without its text, which could quote anything.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	var ck pkcs11.Error
	if !errors.As(err, &ck) {
		return &Error{Op: op, Class: ErrInternal}
	}
	return &Error{Op: op, Class: classify(ck), CKR: ckrName(ck)}
}

func classify(ck pkcs11.Error) error {
	switch uint(ck) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED:
		return ErrInvalidPIN
	case pkcs11.CKR_PIN_LOCKED:
		return ErrPINLocked
	case pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN, pkcs11.CKR_USER_TOO_MANY_TYPES, pkcs11.CKR_USER_ALREADY_LOGGED_IN:
		return ErrUserLoggedIn
	case pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return ErrUserNotFound
	case pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_TOKEN_NOT_RECOGNIZED:
		return ErrTokenNotFound
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_MEMORY,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_SESSION_COUNT:
		return ErrUnavailable
	case pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID:
		return ErrKeyNotFound
	case pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:
		return ErrDecrypt
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_FUNCTION_NOT_SUPPORTED:
		return ErrUnsupported
	}
	return ErrInternal
}

// ckrName is the constant's name (the library's text is
// "pkcs11: 0x<hex>: CKR_NAME"), or the hex value for an unknown code.
func ckrName(ck pkcs11.Error) string {
	s := ck.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
		return s[i+2:]
	}
	return fmt.Sprintf("CKR_0x%X", uint(ck))
}

// stale says whether a session should be thrown away instead of reused.
func stale(err error) bool { return errors.Is(err, ErrUnavailable) }
