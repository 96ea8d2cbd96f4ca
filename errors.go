package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// handleClassified is the framework's HandleRequest, with every error
// answered as what it is: a client's error as its AWS exception (kmserr.Classify),
// so the Vault-style paths name an exception for every refusal as the AWS
// endpoint does, and any other error as a server fault (kmserr.ServerFault).
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
			return nil, kmserr.Validationf("%s", msg)
		}
		return nil, kmserr.Validationf("a field does not have the type it takes")
	case err == nil, errors.Is(err, logical.ErrReadOnly), errors.Is(err, logical.ErrUnsupportedPath),
		errors.Is(err, logical.ErrUnsupportedOperation), errors.Is(err, logical.ErrPermissionDenied),
		errors.Is(err, logical.ErrPerfStandbyPleaseForward):
		return resp, err
	case errors.Is(err, logical.ErrInvalidRequest) && resp != nil && resp.IsError():
		// The framework's refusal of a request: the message is in resp.
		return nil, kmserr.New(kmserr.Validation, "%s", resp.Error())
	}
	if ke := kmserr.Classify(err); ke != nil {
		return nil, ke
	}
	return nil, kmserr.ServerFault(err)
}

// HandleExistenceCheck is the framework's, except that a client error from
// the lookup (an alias name storage refuses, say) means "does not exist":
// Vault answers any existence-check error with a 500, while the handler
// that runs next refuses the same input with its exception.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	found, exists, err := b.Backend.HandleExistenceCheck(ctx, req)
	var undecodable errutil.UserError // a field that does not decode: the handler refuses it
	if err != nil && found && !errors.Is(err, logical.ErrReadOnly) && (kmserr.Classify(err) != nil || errors.As(err, &undecodable)) {
		return true, false, nil
	}
	return found, exists, err
}
