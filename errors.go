package kms

import (
	"fmt"
	"net/http"
)

// kmsError is the plugin's one error type: it carries AWS's exception name
// and the HTTP status Vault sends. It implements logical.HTTPCodedError, which
// survives the plugin's gRPC boundary, so the status reaches the client.
type kmsError struct {
	Type   string
	Status int
	Msg    string
}

func (e *kmsError) Error() string { return e.Type + ": " + e.Msg }
func (e *kmsError) Code() int     { return e.Status }

// AWS KMS exception names.
const (
	excNotFound             = "NotFoundException"
	excAlreadyExists        = "AlreadyExistsException"
	excValidation           = "ValidationException"
	excDisabled             = "DisabledException"
	excInvalidState         = "KMSInvalidStateException"
	excInvalidAliasName     = "InvalidAliasNameException"
	excUnsupportedOperation = "UnsupportedOperationException"
	excLimitExceeded        = "LimitExceededException"
	excInvalidKeyUsage      = "InvalidKeyUsageException"
	excInvalidCiphertext    = "InvalidCiphertextException"
	excIncorrectKey         = "IncorrectKeyException"
	excInvalidSignature     = "KMSInvalidSignatureException"
	excInvalidMac           = "KMSInvalidMacException"
	excAccessDenied         = "AccessDeniedException"
	excInvalidArn           = "InvalidArnException"
	excInvalidMarker        = "InvalidMarkerException"
	excTag                  = "TagException"
	excInvalidGrantToken    = "InvalidGrantTokenException"
	excMalformedPolicy      = "MalformedPolicyDocumentException"
	excInvalidImportToken   = "InvalidImportTokenException"
	excExpiredImportToken   = "ExpiredImportTokenException"
	excIncorrectKeyMaterial = "IncorrectKeyMaterialException"
	excInvalidGrantID       = "InvalidGrantIdException"
	excDryRunOperation      = "DryRunOperationException"
)

// statusFor maps an exception to its HTTP status: NotFound is 404 and
// AccessDenied 403, as a Vault user expects; every other refusal is 400.
func statusFor(exc string) int {
	switch exc {
	case excNotFound:
		return http.StatusNotFound
	case excAccessDenied:
		return http.StatusForbidden
	case excDryRunOperation:
		return http.StatusPreconditionFailed // AWS's status for a successful dry run
	}
	return http.StatusBadRequest
}

func newErr(exc, format string, args ...any) *kmsError {
	return &kmsError{Type: exc, Status: statusFor(exc), Msg: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) error { return newErr(excNotFound, format, args...) }
func errValidation(format string, args ...any) error {
	return newErr(excValidation, format, args...)
}
func errInvalidState(format string, args ...any) error {
	return newErr(excInvalidState, format, args...)
}
func errUnsupported(format string, args ...any) error {
	return newErr(excUnsupportedOperation, format, args...)
}
