package kms

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/hashicorp/vault/sdk/logical"
)

// Vault's audit devices HMAC every string of a request and response unless
// the mount lists its key in audit_non_hmac_request_keys /
// audit_non_hmac_response_keys, and they test only the innermost map key:
// the values of an encryption context ({"purpose": "x"}) and the whole raw
// body of an AWS response stay HMAC'd whatever the tuning. So the plugin
// adds one response field, kms_audit, a JSON string holding the operation
// and the non-secret parameters and results of the call (see
// docs/AUDIT.md); listed as non-HMAC, it gives the audit log what
// CloudTrail records. It holds only fields of auditNonHMACKeys, so never
// key material. Clients see it too: it tells them nothing they did not send
// or receive.

const auditField = "kms_audit"

//go:embed audit/non-hmac-keys.txt
var auditNonHMACKeysFile string

// auditNonHMACKeys is the one list of fields safe in clear in the audit log:
// the mount's tuning (scripts/dev.sh, docs/AUDIT.md) and kms_audit use it.
var auditNonHMACKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(auditNonHMACKeysFile, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// auditEvent is the content of kms_audit, named like CloudTrail's fields.
type auditEvent struct {
	EventName         string         `json:"eventName,omitempty"`
	KeyArn            string         `json:"keyArn,omitempty"`
	RequestParameters map[string]any `json:"requestParameters,omitempty"`
	ResponseElements  map[string]any `json:"responseElements,omitempty"`
	ErrorCode         string         `json:"errorCode,omitempty"`
	ErrorMessage      string         `json:"errorMessage,omitempty"`
}

// HandleRequest runs the request (handleClassified: the framework's, errors
// named as AWS exceptions) and adds kms_audit to its response, also to a
// response that goes with an error: Vault audits it but sends the client
// only the error.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := b.handleClassified(ctx, req)
	// Help, unknown paths, and requests Vault forwards to the active node
	// (which audits them there) get no kms_audit.
	if req.Operation == logical.HelpOperation || errors.Is(err, logical.ErrReadOnly) ||
		errors.Is(err, logical.ErrPerfStandbyPleaseForward) || errors.Is(err, logical.ErrUnsupportedPath) ||
		errors.Is(err, logical.ErrUnsupportedOperation) {
		return resp, err
	}
	ev := b.auditEvent(ctx, req, resp, err)
	raw, jerr := json.Marshal(ev)
	if jerr != nil {
		return resp, err
	}
	if resp == nil {
		resp = &logical.Response{}
	}
	if resp.Data == nil {
		resp.Data = map[string]any{}
	}
	resp.Data[auditField] = string(raw)
	return resp, err
}

func (b *backend) auditEvent(ctx context.Context, req *logical.Request, resp *logical.Response, err error) auditEvent {
	var ev auditEvent
	var out map[string]any
	if resp != nil {
		out = resp.Data
	}
	if strings.HasPrefix(req.Path, awsPathPrefix) && (len(req.Path) == len(awsPathPrefix) || req.Path[len(awsPathPrefix)] == '/') {
		ev.EventName, _ = awsOperationName(req)
		out = nil
		if resp != nil {
			if body, ok := resp.Data[logical.HTTPRawBody].([]byte); ok {
				_ = json.Unmarshal(body, &out)
			}
		}
		if t, ok := out["__type"].(string); ok {
			ev.ErrorCode = t
			ev.ErrorMessage, _ = out["message"].(string)
		}
	} else {
		ev.EventName = b.auditEventName(req)
	}
	ev.RequestParameters = auditFilter(req.Data)
	if key := auditPathKey(b, req); key != "" {
		if ev.RequestParameters == nil {
			ev.RequestParameters = map[string]any{}
		}
		ev.RequestParameters["key_id"] = key
	}
	ev.ResponseElements = auditFilter(out)
	var ke *kmsError
	if errors.As(err, &ke) {
		ev.ErrorCode, ev.ErrorMessage = ke.Type, ke.Msg
	} else if err != nil {
		ev.ErrorCode = excInternal
	}
	ev.KeyArn = b.auditKeyArn(ctx, req, ev)
	return ev
}

// auditFilter keeps the fields of auditNonHMACKeys.
func auditFilter(data map[string]any) map[string]any {
	var out map[string]any
	for k, v := range data {
		if !auditNonHMACKeys[k] || k == auditField {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// auditKeyArn is the ARN of the key the call used: the one the response
// names, else the one the request names if it is an id or an ARN (an alias
// is resolved only by the operation).
func (b *backend) auditKeyArn(ctx context.Context, req *logical.Request, ev auditEvent) string {
	meta, _ := ev.ResponseElements["KeyMetadata"].(map[string]any) // CreateKey, DescribeKey
	for _, m := range []map[string]any{meta, ev.ResponseElements, ev.RequestParameters} {
		for _, f := range []string{"Arn", "arn", "KeyArn", "KeyId", "key_id"} {
			id, _ := m[f].(string)
			switch {
			case id == "" || strings.HasPrefix(id, "alias/"):
				continue
			case strings.HasPrefix(id, "arn:"):
				if strings.Contains(id, ":key/") {
					return id
				}
				continue
			}
			c, err := b.config(ctx, req.Storage)
			if err != nil {
				return ""
			}
			return c.arns().key(id)
		}
	}
	return ""
}

// auditEventName is the AWS operation a Vault-style request performs: the
// one awsOperations serves by the same path and operation.
func (b *backend) auditEventName(req *logical.Request) string {
	p := b.Route(req.Path)
	if p == nil {
		return ""
	}
	if n := b.awsNameFor(p, req.Operation); n != "" {
		return n
	}
	// decrypt/<key> serves Decrypt like the bare decrypt path.
	full := strings.TrimPrefix(strings.TrimSuffix(p.Pattern, "$"), "^")
	if bare := strings.TrimSuffix(full, "/"+keyRef); bare != full {
		if q := b.Route(bare); q != nil {
			return b.awsNameFor(q, req.Operation)
		}
	}
	return ""
}

func (b *backend) awsNameFor(p *framework.Path, op logical.Operation) string {
	fallback := ""
	for name, o := range awsOperations {
		if b.awsRoutes[name] != p {
			continue
		}
		if o.op == op {
			return name
		}
		// Vault sends a write to a path with an existence check as create
		// or update; only aliases tell them apart (CreateAlias, UpdateAlias).
		if op == logical.CreateOperation && o.op == logical.UpdateOperation {
			fallback = name
		}
	}
	return fallback
}

var auditPatterns sync.Map // pattern -> *regexp.Regexp

// auditPathKey is the key the path names (key_id), if any.
func auditPathKey(b *backend, req *logical.Request) string {
	p := b.Route(req.Path)
	if p == nil || !strings.Contains(p.Pattern, "(?P<key_id>") {
		return ""
	}
	re, ok := auditPatterns.Load(p.Pattern)
	if !ok {
		c, err := regexp.Compile(p.Pattern)
		if err != nil {
			return ""
		}
		re, _ = auditPatterns.LoadOrStore(p.Pattern, c)
	}
	r := re.(*regexp.Regexp)
	m := r.FindStringSubmatch(req.Path)
	if i := r.SubexpIndex("key_id"); m != nil && i >= 0 {
		return m[i]
	}
	return ""
}
