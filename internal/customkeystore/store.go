// Package customkeystore holds the plugin's custom key stores: AWS's
// CloudHSM key stores, here each backed by an operator-defined PKCS#11
// connection. It keeps their records in the mount's storage and decides
// every change of their connection state as AWS does; it knows nothing of
// Vault requests or authorization.
package customkeystore

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// TypeCloudHSM is the one custom key store type: AWS_CLOUDHSM, whose
// "cluster" is an HSM connection (EXTERNAL_KEY_STORE has no counterpart).
const TypeCloudHSM = "AWS_CLOUDHSM"

// State is AWS's ConnectionState.
type State string

const (
	Connected     State = "CONNECTED"
	Connecting    State = "CONNECTING"
	Disconnected  State = "DISCONNECTED"
	Disconnecting State = "DISCONNECTING"
	Failed        State = "FAILED"
)

// ErrorCode is AWS's ConnectionErrorCode, the values that a PKCS#11
// token can give cause for.
type ErrorCode string

const (
	// The store's HSM connection is no longer defined.
	ClusterNotFound ErrorCode = "CLUSTER_NOT_FOUND"
	// The connection's token is not present (AWS: no active HSM).
	InsufficientHSMs   ErrorCode = "INSUFFICIENT_CLOUDHSM_HSMS"
	InvalidCredentials ErrorCode = "INVALID_CREDENTIALS"
	UserLockedOut      ErrorCode = "USER_LOCKED_OUT"
	UserLoggedIn       ErrorCode = "USER_LOGGED_IN"
	UserNotFound       ErrorCode = "USER_NOT_FOUND"
	// The token or its library stopped answering.
	NetworkErrors ErrorCode = "NETWORK_ERRORS"
	InternalError ErrorCode = "INTERNAL_ERROR"
)

// Store is one custom key store's record.
type Store struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	// Connection is the HSM connection's name, which the AWS API calls
	// CloudHsmClusterId.
	Connection string `json:"connection"`
	// TokenSerial is the serial number of the token at creation: the store
	// may move only to a connection that reaches the same token, as AWS
	// lets it move only to a cluster that shares the original's backups.
	TokenSerial string `json:"token_serial"`
	// TrustAnchor is the TrustAnchorCertificate given at creation, kept
	// and returned as AWS does.
	TrustAnchor string `json:"trust_anchor,omitempty"`
	// WantConnected is the state an operator asked for; State is what the
	// last attempt achieved, ErrorCode why it failed.
	WantConnected bool      `json:"want_connected"`
	State         State     `json:"state"`
	ErrorCode     ErrorCode `json:"error_code,omitempty"`
	CreationDate  time.Time `json:"creation_date"`
}

// Kinds of refusal; each is one AWS exception, which the caller names.
var (
	ErrNotFound        = errors.New("custom key store not found")          // CustomKeyStoreNotFoundException
	ErrNameInUse       = errors.New("custom key store name in use")        // CustomKeyStoreNameInUseException
	ErrInvalidState    = errors.New("custom key store state")              // CustomKeyStoreInvalidStateException
	ErrHasKeys         = errors.New("custom key store has keys")           // CustomKeyStoreHasCMKsException
	ErrConnectionInUse = errors.New("HSM connection in use")               // CloudHsmClusterInUseException
	ErrLimit           = errors.New("too many custom key stores")          // LimitExceededException
	ErrInvalid         = errors.New("invalid custom key store parameters") // ValidationException
)

// Error is a refusal: Kind says which, Msg says why without quoting what
// the caller sent.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func refuse(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// StartConnect records a ConnectCustomKeyStore. It refuses a store that is
// disconnecting or failed (AWS: disconnect a failed store first) and does
// nothing to one already connected or connecting (done is true).
func (s *Store) StartConnect() (done bool, err error) {
	switch s.State {
	case Connected, Connecting:
		s.WantConnected = true
		return true, nil
	case Disconnecting, Failed:
		return false, refuse(ErrInvalidState, "custom key store %s is %s: disconnect it first", s.ID, s.State)
	}
	s.WantConnected, s.State, s.ErrorCode = true, Connecting, ""
	return false, nil
}

// FinishConnect records how a connection attempt ended: code is empty on
// success. A store whose disconnection was asked for meanwhile stays
// disconnected.
func (s *Store) FinishConnect(code ErrorCode) {
	switch {
	case !s.WantConnected:
		s.State, s.ErrorCode = Disconnected, ""
	case code == "":
		s.State, s.ErrorCode = Connected, ""
	default:
		s.State, s.ErrorCode = Failed, code
	}
}

// StartDisconnect records a DisconnectCustomKeyStore, which AWS refuses on
// a store that is disconnected or disconnecting.
func (s *Store) StartDisconnect() error {
	if s.State == Disconnected || s.State == Disconnecting {
		return refuse(ErrInvalidState, "custom key store %s is already %s", s.ID, s.State)
	}
	s.WantConnected, s.State = false, Disconnecting
	return nil
}

// FinishDisconnect records that the connection is closed.
func (s *Store) FinishDisconnect() { s.State, s.ErrorCode = Disconnected, "" }

// Lost records that a connected store's token went away (found by a
// health check or a failed call): it is FAILED with the code until it is
// disconnected and connected again, as in AWS.
func (s *Store) Lost(code ErrorCode) {
	if s.State == Connected || s.State == Connecting {
		s.State, s.ErrorCode = Failed, code
	}
}

// CheckUpdatable: AWS changes a CloudHSM key store only while it is
// disconnected.
func (s *Store) CheckUpdatable() error {
	if s.State != Disconnected {
		return refuse(ErrInvalidState, "custom key store %s is %s: disconnect it before updating it", s.ID, s.State)
	}
	return nil
}

// Usable says whether keys in the store can be used now; otherwise they
// are Unavailable.
func (s *Store) Usable() bool { return s.State == Connected }

var (
	// AWS's CloudHsmClusterId pattern, so an AWS SDK that checks lengths
	// and patterns accepts every connection name.
	connectionName = regexp.MustCompile(`^cluster-[2-7a-zA-Z]{11,16}$`)
	storeID        = regexp.MustCompile(`^cks-[0-9a-f]{17}$`)
)

// ValidConnectionName says whether name can name an HSM connection.
func ValidConnectionName(name string) bool { return connectionName.MatchString(name) }

// ValidID says whether id has the form of a custom key store id.
func ValidID(id string) bool { return storeID.MatchString(id) }

// ValidName checks a custom key store name as AWS does: 1 to 256
// characters.
func ValidName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > 256 || !utf8.ValidString(name) {
		return refuse(ErrInvalid, "CustomKeyStoreName must be 1 to 256 characters")
	}
	return nil
}
