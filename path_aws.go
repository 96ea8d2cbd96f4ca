package kms

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

// The AWS KMS JSON 1.1 protocol, served on aws and aws/<Operation>, so that
// unchanged AWS SDK clients use the plugin. Every operation runs the handler
// of the Vault-style path that serves it (see awsapi.Operations): this file
// is the Vault path; internal/awsapi finds the operation and speaks AWS's
// wire format.

func pathAWS(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      awsapi.PathPrefix + "(?:/(?P<operation>[A-Za-z]+))?$",
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
	out, err := b.runAWS(ctx, req)
	return awsapi.Respond(out, err, b.Logger())
}

// runAWS decodes the request to the Vault-style path's fields, runs that
// path's handler as the same caller, and encodes the response.
func (b *backend) runAWS(ctx context.Context, req *logical.Request) (map[string]any, error) {
	call, err := awsapi.Decode(req)
	if err != nil {
		return nil, err
	}
	p := b.awsRoutes[call.Name]
	fd := &framework.FieldData{Raw: call.Data, Schema: p.Fields}
	if ke := checkFields(fd, call.MemberOf); ke != nil {
		return nil, ke
	}
	inner := *req
	inner.Operation, inner.Path, inner.Data = call.Op.Op, call.Op.Route, call.Data
	resp, err := p.Operations[call.Op.Op].Handler()(ctx, &inner, fd)
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
	var data map[string]any
	if resp != nil {
		data = resp.Data
	}
	return call.Encode(data, awsapi.Env{KeyARN: c.arns().Key, Account: orDefault(c.AccountID, defaultAccountID)})
}

// resolveAWSRoutes finds, once, the path and handler serving each AWS
// operation, so a request does not match patterns to find them.
func (b *backend) resolveAWSRoutes() (err error) {
	b.awsRoutes, err = awsapi.Routes(b.Route)
	return err
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
