// Package awsapi is the AWS KMS JSON 1.1 protocol: which operation a
// request names (X-Amz-Target or the path), the operation table mapping
// each operation onto the Vault-style path that serves it, the request
// members and how they become that path's fields, the response shapes,
// DryRun, and AWS's error body. It runs no handler: the root decodes a
// request here, runs the Vault-style path's handler itself, and encodes
// the answer here.
package awsapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"
)

const (
	// PathPrefix is the mount-relative path serving the protocol: aws and
	// aws/<Operation>.
	PathPrefix   = "aws"
	TargetHeader = "X-Amz-Target"
	TargetPrefix = "TrentService."
	ContentType  = "application/x-amz-json-1.1"
)

// OperationName finds the operation in the X-Amz-Target header (which
// reaches the plugin only if the mount passes it through) or in the path.
func OperationName(req *logical.Request) (string, error) {
	fromPath := strings.TrimPrefix(strings.TrimPrefix(req.Path, PathPrefix), "/")
	target := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, TargetHeader) && len(v) > 0 {
			target = v[0]
		}
	}
	if target == "" && fromPath == "" {
		return "", kmserr.New(kmserr.UnknownOperation, "no operation: the %s header did not reach the plugin. Vault passes it only to a mount "+
			"tuned with passthrough_request_headers=%s (vault secrets tune -passthrough-request-headers=%s <mount>); "+
			"or name the operation in the path, <mount>/%s/<Operation>", TargetHeader, TargetHeader, TargetHeader, PathPrefix)
	}
	if target == "" {
		return fromPath, nil
	}
	name, ok := strings.CutPrefix(target, TargetPrefix)
	if !ok || name == "" {
		return "", kmserr.New(kmserr.UnknownOperation, "%s %q does not name a TrentService operation", TargetHeader, target)
	}
	if fromPath != "" && fromPath != name {
		return "", kmserr.Validationf("the path names operation %s but %s names %s", fromPath, TargetHeader, name)
	}
	return name, nil
}

// Request is one AWS request, decoded: the operation and the fields of the
// Vault-style path that serves it.
type Request struct {
	Name string
	Op   Op
	// Data are the Vault-style path's fields.
	Data map[string]any
	body map[string]any // the AWS request's members
}

// Decode finds the operation a request names and turns its members into
// the Vault-style path's fields.
func Decode(req *logical.Request) (*Request, error) {
	name, err := OperationName(req)
	if err != nil {
		return nil, err
	}
	op, ok := Operations[name]
	if !ok {
		if Unsupported[name] {
			return nil, kmserr.Unsupportedf("this plugin does not implement %s", name)
		}
		return nil, kmserr.New(kmserr.UnknownOperation, "unknown operation %q", name)
	}
	data, err := Fields(name, req.Data, op.Members)
	if err != nil {
		return nil, err
	}
	return &Request{Name: name, Op: op, Data: data, body: req.Data}, nil
}

// MemberOf is the member of the request that became the Vault-style
// field, so that an error names what the client sent (Plaintext, not
// plaintext).
func (r *Request) MemberOf(field string) string {
	return memberOf(r.body, r.Op.Members, field)
}

// Env is what shaping a response needs from the mount's configuration.
type Env struct {
	KeyARN  func(id string) string // the ARN of a key id
	Account string                 // the AWS account id the mount plays
}

// Encode turns the Vault-style path's response data into the operation's
// AWS output shape.
func (r *Request) Encode(data map[string]any, env Env) (map[string]any, error) {
	out := result{in: r.Data, data: data, Env: env}
	switch {
	case r.Op.outE != nil:
		return r.Op.outE(out)
	case r.Op.out != nil:
		return r.Op.out(out), nil
	}
	return map[string]any{}, nil
}

// Respond is the HTTP answer to an AWS request: out as the body, or the
// AWS error body for err. A write refused on a performance standby
// (logical.ErrReadOnly) is returned as an error, for Vault to forward the
// request to the active node.
func Respond(out map[string]any, err error, log hclog.Logger) (*logical.Response, error) {
	if errors.Is(err, logical.ErrReadOnly) {
		return nil, err
	}
	var ke *kmserr.Error
	if errors.As(err, &ke) && ke.Type == kmserr.DryRunOperation {
		// A dry run's success: HTTP 412, as AWS sends it.
		return response(ke.Status, map[string]any{"__type": ke.Type, "message": ke.Msg}), nil
	}
	if err != nil {
		return errorResponse(err, log), nil
	}
	return response(http.StatusOK, out), nil
}

// errorResponse is an AWS error body: {"__type": "<Exception>", "message":
// ...}. Like AWS KMS, every refusal is HTTP 400 (AccessDeniedException
// too); the SDKs raise the typed exception from __type. The SDK's own
// client errors are refusals too (kmserr.Classify); only server faults are
// logged and answered KMSInternalException (500), with no detail.
func errorResponse(err error, log hclog.Logger) *logical.Response {
	if ke := kmserr.Classify(err); ke != nil {
		return response(http.StatusBadRequest, map[string]any{"__type": ke.Type, "message": ke.Msg})
	}
	log.Error("AWS protocol request failed", "error", err)
	return response(http.StatusInternalServerError, map[string]any{"__type": kmserr.Internal, "message": "internal error; see the Vault server log"})
}

// response makes Vault send body as-is, with AWS's content type.
func response(status int, body map[string]any) *logical.Response {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"__type":"`+kmserr.Internal+`","message":"response encoding failed"}`)
	}
	return &logical.Response{Data: map[string]any{
		logical.HTTPStatusCode:  status,
		logical.HTTPContentType: ContentType,
		logical.HTTPRawBody:     raw,
	}}
}
