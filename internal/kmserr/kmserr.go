// Package kmserr is the ground floor: the plugin's one error type and AWS
// KMS's exception names. Every other package may import it; it imports
// nothing of the plugin.
package kmserr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
)

// Error carries AWS's exception name and the HTTP status Vault sends. It
// implements logical.HTTPCodedError, which survives the plugin's gRPC
// boundary, so the status reaches the client.
type Error struct {
	Type   string
	Status int
	Msg    string
	cause  error // a server fault's original error, for errors.Is
}

func (e *Error) Error() string { return e.Type + ": " + e.Msg }
func (e *Error) Code() int     { return e.Status }
func (e *Error) Unwrap() error { return e.cause }

// AWS KMS exception names.
const (
	NotFound             = "NotFoundException"
	AlreadyExists        = "AlreadyExistsException"
	Validation           = "ValidationException"
	Disabled             = "DisabledException"
	InvalidState         = "KMSInvalidStateException"
	InvalidAliasName     = "InvalidAliasNameException"
	UnsupportedOperation = "UnsupportedOperationException"
	LimitExceeded        = "LimitExceededException"
	InvalidKeyUsage      = "InvalidKeyUsageException"
	InvalidCiphertext    = "InvalidCiphertextException"
	IncorrectKey         = "IncorrectKeyException"
	InvalidSignature     = "KMSInvalidSignatureException"
	InvalidMac           = "KMSInvalidMacException"
	AccessDenied         = "AccessDeniedException"
	InvalidArn           = "InvalidArnException"
	InvalidMarker        = "InvalidMarkerException"
	Tag                  = "TagException"
	InvalidGrantToken    = "InvalidGrantTokenException"
	MalformedPolicy      = "MalformedPolicyDocumentException"
	InvalidImportToken   = "InvalidImportTokenException"
	ExpiredImportToken   = "ExpiredImportTokenException"
	IncorrectKeyMaterial = "IncorrectKeyMaterialException"
	InvalidGrantID       = "InvalidGrantIdException"
	DryRunOperation      = "DryRunOperationException"
	UnknownOperation     = "UnknownOperationException"
	Internal             = "KMSInternalException"

	CustomKeyStoreNotFound     = "CustomKeyStoreNotFoundException"
	CustomKeyStoreInvalidState = "CustomKeyStoreInvalidStateException"
	CustomKeyStoreNameInUse    = "CustomKeyStoreNameInUseException"
	CustomKeyStoreHasCMKs      = "CustomKeyStoreHasCMKsException"
	CloudHsmClusterNotFound    = "CloudHsmClusterNotFoundException"
	CloudHsmClusterInUse       = "CloudHsmClusterInUseException"
	CloudHsmClusterNotActive   = "CloudHsmClusterNotActiveException"
	CloudHsmClusterInvalidConf = "CloudHsmClusterInvalidConfigurationException"
	CloudHsmClusterNotRelated  = "CloudHsmClusterNotRelatedException"
	IncorrectTrustAnchor       = "IncorrectTrustAnchorException"
)

// StatusFor maps an exception to its HTTP status: NotFound is 404 and
// AccessDenied 403, as a Vault user expects; every other refusal is 400.
func StatusFor(exc string) int {
	switch exc {
	case NotFound:
		return http.StatusNotFound
	case AccessDenied:
		return http.StatusForbidden
	case DryRunOperation:
		return http.StatusPreconditionFailed // AWS's status for a successful dry run
	case Internal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// New is an exception with a message. Messages name fields, never quote
// their values.
func New(exc, format string, args ...any) *Error {
	return &Error{Type: exc, Status: StatusFor(exc), Msg: fmt.Sprintf(format, args...)}
}

// Client errors the SDK and Vault's storage return as plain errors. Across
// the plugin's gRPC boundary a storage error is only its message, so they
// are recognised by message as well as by identity.
var sdkClientErrors = []error{
	logical.ErrRelativePath,
	physical.ErrRelativePath,
	physical.ErrNonUTF8,
	physical.ErrNonPrintable,
	logical.ErrInvalidRequest,
}

// Classify gives an error that is not an *Error the AWS exception a client
// should see when it is the client's fault, and returns nil when it is a
// server fault (storage down, a corrupt entry, a bug): only those are a 500.
func Classify(err error) *Error {
	var ke *Error
	if errors.As(err, &ke) {
		if ke.Type == Internal {
			return nil
		}
		return ke
	}
	for _, c := range sdkClientErrors {
		if errors.Is(err, c) || strings.Contains(err.Error(), c.Error()) {
			return New(Validation, "%s", err)
		}
	}
	var bad *logical.StatusBadRequest
	if errors.As(err, &bad) {
		return New(Validation, "%s", bad.Err)
	}
	var coded logical.HTTPCodedError
	if errors.As(err, &coded) && coded.Code() >= 400 && coded.Code() < 500 {
		exc := Validation
		switch coded.Code() {
		case http.StatusNotFound:
			exc = NotFound
		case http.StatusForbidden:
			exc = AccessDenied
		}
		return &Error{Type: exc, Status: coded.Code(), Msg: coded.Error()}
	}
	return nil
}

// ServerFault is an error that is not the client's (storage full or
// unavailable, raft's entry size limit, a lost leadership, a bug) as a
// coded 500. Vault answers a plain error 400 whenever a response goes with
// it: without the code a write that may have been committed would look
// refused, and clients would not retry it.
func ServerFault(err error) *Error {
	var ke *Error
	if errors.As(err, &ke) && ke.Type == Internal {
		return ke
	}
	return &Error{Type: Internal, Status: http.StatusInternalServerError, Msg: err.Error(), cause: err}
}

// NotFoundf is a NotFoundException.
func NotFoundf(format string, args ...any) error { return New(NotFound, format, args...) }

// Validationf is a ValidationException.
func Validationf(format string, args ...any) error { return New(Validation, format, args...) }

// InvalidStatef is a KMSInvalidStateException.
func InvalidStatef(format string, args ...any) error { return New(InvalidState, format, args...) }

// Unsupportedf is an UnsupportedOperationException.
func Unsupportedf(format string, args ...any) error {
	return New(UnsupportedOperation, format, args...)
}
