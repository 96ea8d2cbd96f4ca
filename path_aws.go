package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The AWS KMS JSON 1.1 protocol, served on aws and aws/<Operation>, so that
// unchanged AWS SDK clients use the plugin. Every operation runs the handler
// of the Vault-style path that serves it (see awsOperations): this file only
// finds the operation and speaks AWS's wire format.

const (
	awsPathPrefix   = "aws"
	awsTargetHeader = "X-Amz-Target"
	awsTargetPrefix = "TrentService."
	awsContentType  = "application/x-amz-json-1.1"
)

func pathAWS(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      awsPathPrefix + "(?:/(?P<operation>[A-Za-z]+))?$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "aws-protocol"},
		Fields: map[string]*framework.FieldSchema{
			"operation": {Type: framework.TypeString,
				Description: "The AWS KMS operation (Encrypt, CreateKey, ...). Optional: the X-Amz-Target header names it otherwise; if both are present they must agree."},
		},
		// The body is an AWS request whose members are the operation's.
		TakesArbitraryInput: true,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{Callback: b.pathAWSRequest,
				Summary:      "Serve one AWS KMS JSON 1.1 request (X-Amz-Target: TrentService.<Operation>).",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "call"}},
		},
		HelpSynopsis:    "The AWS KMS JSON 1.1 protocol, for AWS SDK clients.",
		HelpDescription: pathAWSHelp,
	}
}

// awsRequestIDHeader carries Vault's request id (the audit log entry's
// request.id) to the client, which reports it with every error as AWS
// clients report AWS's. Vault passes it only from a mount tuned with
// allowed_response_headers=x-amzn-RequestId.
const awsRequestIDHeader = "x-amzn-RequestId"

func (b *backend) pathAWSRequest(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	resp, err := b.serveAWS(ctx, req)
	if resp != nil && req.ID != "" {
		resp.Headers = map[string][]string{awsRequestIDHeader: {req.ID}}
	}
	return resp, err
}

func (b *backend) serveAWS(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	name, err := awsOperationName(req)
	if err != nil {
		return b.awsError(err), nil
	}
	out, err := b.runAWS(ctx, req, name)
	if errors.Is(err, logical.ErrReadOnly) {
		// A write on a performance standby: Vault forwards the request to
		// the active node when it sees this error.
		return nil, err
	}
	var ke *kmserr.Error
	if errors.As(err, &ke) && ke.Type == kmserr.DryRunOperation {
		// A dry run's success: HTTP 412, as AWS sends it.
		return awsResponse(ke.Status, map[string]any{"__type": ke.Type, "message": ke.Msg}), nil
	}
	if err != nil {
		return b.awsError(err), nil
	}
	return awsResponse(http.StatusOK, out), nil
}

// awsOperationName finds the operation in the X-Amz-Target header (which
// reaches the plugin only if the mount passes it through) or in the path.
func awsOperationName(req *logical.Request) (string, error) {
	fromPath := strings.TrimPrefix(strings.TrimPrefix(req.Path, awsPathPrefix), "/")
	target := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, awsTargetHeader) && len(v) > 0 {
			target = v[0]
		}
	}
	if target == "" && fromPath == "" {
		return "", kmserr.New(kmserr.UnknownOperation, "no operation: the %s header did not reach the plugin. Vault passes it only to a mount "+
			"tuned with passthrough_request_headers=%s (vault secrets tune -passthrough-request-headers=%s <mount>); "+
			"or name the operation in the path, <mount>/%s/<Operation>", awsTargetHeader, awsTargetHeader, awsTargetHeader, awsPathPrefix)
	}
	if target == "" {
		return fromPath, nil
	}
	name, ok := strings.CutPrefix(target, awsTargetPrefix)
	if !ok || name == "" {
		return "", kmserr.New(kmserr.UnknownOperation, "%s %q does not name a TrentService operation", awsTargetHeader, target)
	}
	if fromPath != "" && fromPath != name {
		return "", kmserr.Validationf("the path names operation %s but %s names %s", fromPath, awsTargetHeader, name)
	}
	return name, nil
}

// runAWS translates the request to the Vault-style path's fields, runs that
// path's handler as the same caller, and translates the response.
func (b *backend) runAWS(ctx context.Context, req *logical.Request, name string) (map[string]any, error) {
	op, ok := awsOperations[name]
	if !ok {
		if awsUnsupported[name] {
			return nil, kmserr.Unsupportedf("this plugin does not implement %s", name)
		}
		return nil, kmserr.New(kmserr.UnknownOperation, "unknown operation %q", name)
	}
	data, err := awsFields(name, req.Data, op.members)
	if err != nil {
		return nil, err
	}
	p := b.awsRoutes[name]
	fd := &framework.FieldData{Raw: data, Schema: p.Fields}
	if ke := checkFields(fd, func(field string) string { return awsMemberOf(req.Data, op.members, field) }); ke != nil {
		return nil, ke
	}
	inner := *req
	inner.Operation, inner.Path, inner.Data = op.op, op.route, data
	resp, err := p.Operations[op.op].Handler()(ctx, &inner, fd)
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.IsError() {
		return nil, kmserr.Validationf("%s", resp.Error())
	}
	c, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	out := awsOut{in: data, arns: c.arns(), account: orDefault(c.AccountID, defaultAccountID)}
	if resp != nil {
		out.data = resp.Data
	}
	switch {
	case op.outE != nil:
		return op.outE(out)
	case op.out != nil:
		return op.out(out), nil
	}
	return map[string]any{}, nil
}

// resolveAWSRoutes finds, once, the path and handler serving each AWS
// operation, so a request does not match patterns to find them.
func (b *backend) resolveAWSRoutes() error {
	b.awsRoutes = make(map[string]*framework.Path, len(awsOperations))
	for name, op := range awsOperations {
		p := b.Route(op.route)
		if p == nil || p.Operations[op.op] == nil {
			return fmt.Errorf("AWS operation %s: no %s handler on %s", name, op.op, op.route)
		}
		b.awsRoutes[name] = p
	}
	return nil
}

// awsError is an AWS error body: {"__type": "<Exception>", "message": ...}.
// Like AWS KMS, every refusal is HTTP 400 (AccessDeniedException too); the
// SDKs raise the typed exception from __type. The SDK's own client errors
// are refusals too (classify); only server faults are logged and answered
// KMSInternalException (500), with no detail.
func (b *backend) awsError(err error) *logical.Response {
	if ke := kmserr.Classify(err); ke != nil {
		return awsResponse(http.StatusBadRequest, map[string]any{"__type": ke.Type, "message": ke.Msg})
	}
	b.Logger().Error("AWS protocol request failed", "error", err)
	return awsResponse(http.StatusInternalServerError, map[string]any{"__type": kmserr.Internal, "message": "internal error; see the Vault server log"})
}

// awsResponse makes Vault send body as-is, with AWS's content type.
func awsResponse(status int, body map[string]any) *logical.Response {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"__type":"`+kmserr.Internal+`","message":"response encoding failed"}`)
	}
	return &logical.Response{Data: map[string]any{
		logical.HTTPStatusCode:  status,
		logical.HTTPContentType: awsContentType,
		logical.HTTPRawBody:     raw,
	}}
}

const pathAWSHelp = `
Serves AWS KMS's JSON 1.1 protocol so AWS SDK clients work unchanged: point
the SDK's endpoint at <vault>/v1/<mount>/aws and add the X-Vault-Token
header (the SDK's SigV4 signature is ignored). The operation comes from the
X-Amz-Target header (TrentService.<Operation>), which Vault passes to the
plugin only when the mount allows it:

  vault secrets tune -passthrough-request-headers=X-Amz-Target <mount>

or from the path, <mount>/aws/<Operation>, which also lets a Vault ACL
allow single operations. Each operation runs the same code as its
Vault-style path, as the same caller: Vault ACLs on the aws path, key
policies and grants apply. Errors are AWS's: HTTP 400 with
{"__type": "<Exception>", "message": "..."}. See docs/AWS.md.
`
