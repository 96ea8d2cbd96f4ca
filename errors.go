package kms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
)

// kmsError is the plugin's one error type: it carries AWS's exception name
// and the HTTP status Vault sends. It implements logical.HTTPCodedError, which
// survives the plugin's gRPC boundary, so the status reaches the client.
type kmsError struct {
	Type   string
	Status int
	Msg    string
	cause  error // a server fault's original error, for errors.Is
}

func (e *kmsError) Error() string { return e.Type + ": " + e.Msg }
func (e *kmsError) Code() int     { return e.Status }
func (e *kmsError) Unwrap() error { return e.cause }

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
	case excInternal:
		return http.StatusInternalServerError
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

// classify gives an error that is not a kmsError the AWS exception a
// client should see when it is the client's fault, and returns nil when it
// is a server fault (storage down, a corrupt entry, a bug): only those are
// a 500.
func classify(err error) *kmsError {
	var ke *kmsError
	if errors.As(err, &ke) {
		if ke.Type == excInternal {
			return nil
		}
		return ke
	}
	for _, c := range sdkClientErrors {
		if errors.Is(err, c) || strings.Contains(err.Error(), c.Error()) {
			return newErr(excValidation, "%s", err)
		}
	}
	var bad *logical.StatusBadRequest
	if errors.As(err, &bad) {
		return newErr(excValidation, "%s", bad.Err)
	}
	var coded logical.HTTPCodedError
	if errors.As(err, &coded) && coded.Code() >= 400 && coded.Code() < 500 {
		exc := excValidation
		switch coded.Code() {
		case http.StatusNotFound:
			exc = excNotFound
		case http.StatusForbidden:
			exc = excAccessDenied
		}
		return &kmsError{Type: exc, Status: coded.Code(), Msg: coded.Error()}
	}
	return nil
}

// handleClassified is the framework's HandleRequest, with every error
// answered as what it is: a client's error as its AWS exception (classify),
// so the Vault-style paths name an exception for every refusal as the AWS
// endpoint does, and any other error as a server fault (serverFault).
// Errors Vault itself acts on pass unchanged: ErrReadOnly (Vault forwards
// the request to the active node), unsupported path or operation.
func (b *backend) handleClassified(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := b.Backend.HandleRequest(ctx, req)
	inlineSchemaRefs(req, resp)
	switch {
	case err == nil && resp != nil && resp.IsError():
		// The framework refuses a field that does not decode with an error
		// response and no error: Vault answers it 400 only while nothing
		// else is in the response, and its message quotes the value.
		if ke := b.checkRequestFields(req); ke != nil {
			return nil, ke
		}
		if msg := resp.Error().Error(); !strings.HasPrefix(msg, "Field validation failed") {
			return nil, errValidation("%s", msg)
		}
		return nil, errValidation("a field does not have the type it takes")
	case err == nil, errors.Is(err, logical.ErrReadOnly), errors.Is(err, logical.ErrUnsupportedPath),
		errors.Is(err, logical.ErrUnsupportedOperation), errors.Is(err, logical.ErrPermissionDenied),
		errors.Is(err, logical.ErrPerfStandbyPleaseForward):
		return resp, err
	case errors.Is(err, logical.ErrInvalidRequest) && resp != nil && resp.IsError():
		// The framework's refusal of a request: the message is in resp.
		return nil, newErr(excValidation, "%s", resp.Error())
	}
	if ke := classify(err); ke != nil {
		return nil, ke
	}
	return nil, serverFault(err)
}

// serverFault is an error that is not the client's (storage full or
// unavailable, raft's entry size limit, a lost leadership, a bug) as a
// coded 500. Vault answers a plain error 400 whenever a response goes with
// it, and every response carries the audit event: without the code a
// write that may have been committed would look refused, and clients
// would not retry it.
func serverFault(err error) *kmsError {
	var ke *kmsError
	if errors.As(err, &ke) && ke.Type == excInternal {
		return ke
	}
	return &kmsError{Type: excInternal, Status: http.StatusInternalServerError, Msg: err.Error(), cause: err}
}

// HandleExistenceCheck is the framework's, except that a client error from
// the lookup (an alias name storage refuses, say) means "does not exist":
// Vault answers any existence-check error with a 500, while the handler
// that runs next refuses the same input with its exception.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	found, exists, err := b.Backend.HandleExistenceCheck(ctx, req)
	var undecodable errutil.UserError // a field that does not decode: the handler refuses it
	if err != nil && found && !errors.Is(err, logical.ErrReadOnly) && (classify(err) != nil || errors.As(err, &undecodable)) {
		return true, false, nil
	}
	return found, exists, err
}
