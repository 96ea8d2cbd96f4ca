package kms

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/openkms/vault-plugin-kms/internal/awsapi"
	"github.com/openkms/vault-plugin-kms/internal/kmserr"

	"github.com/hashicorp/vault/sdk/logical"
)

// Vault's audit devices HMAC every string of a request and response unless
// the mount lists its key in audit_non_hmac_request_keys /
// audit_non_hmac_response_keys, and they test only the innermost map key:
// the values of an encryption context ({"purpose": "x"}) and the whole raw
// body of an AWS response stay HMAC'd whatever the tuning. So the plugin
// adds to each response one audit event, a JSON string holding the
// operation and the non-secret parameters and results of the call (see
// docs/AUDIT.md): it gives the audit log what CloudTrail records. It holds
// only fields of auditNonHMACKeys, so never key material.
//
// The event goes where Vault's audit log records it and the client does
// not read it. Vault 1.21 audits a response's headers, unHMAC'd, after the
// mount's allowed_response_headers has filtered them, and sends them as
// HTTP headers, which neither the vault CLI nor the JSON body shows: on the
// Vault-style paths the event is the X-Kms-Audit header (the mount must
// allow it). A raw response (the AWS endpoint) is sent as its body alone,
// so there the event is the response field kms_audit, audited (unHMAC'd
// once the mount is tuned) and never sent. Nothing else an external plugin
// returns reaches the audit log without reaching the client: warnings and
// data are printed, wrap info and auth are Vault's.

const (
	auditField  = "kms_audit"
	auditHeader = "X-Kms-Audit"
	// maxAuditHeader bounds the header: clients and proxies limit the size
	// of response headers (nginx's proxy_buffer_size is 4 or 8 KiB, curl's
	// limit 100 KiB). A larger event loses its parameters and results,
	// which the audit entry's request and response data also hold.
	maxAuditHeader = 6 << 10
)

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
	// Truncated: requestParameters and responseElements were left out to
	// keep the header under maxAuditHeader.
	Truncated bool `json:"truncated,omitempty"`
}

// HandleRequest runs the request (handleClassified: the framework's, errors
// named as AWS exceptions) and attaches its audit event (attachAudit), also
// to a response that goes with an error: Vault audits it but sends the
// client only the error.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if refused := b.layoutRefused.Load(); refused != nil {
		return nil, kmserr.ServerFault(*refused)
	}
	resp, err := b.handleClassified(ctx, req)
	// Help, unknown paths, and requests Vault forwards to the active node
	// (which audits them there) get no event.
	if req.Operation == logical.HelpOperation || errors.Is(err, logical.ErrReadOnly) ||
		errors.Is(err, logical.ErrPerfStandbyPleaseForward) || errors.Is(err, logical.ErrUnsupportedPath) ||
		errors.Is(err, logical.ErrUnsupportedOperation) {
		return resp, err
	}
	return attachAudit(resp, b.auditEvent(ctx, req, resp, err)), err
}

// attachAudit puts the event where the audit log records it and the client
// does not read it (see the top of this file).
func attachAudit(resp *logical.Response, ev auditEvent) *logical.Response {
	if resp == nil {
		resp = &logical.Response{}
	}
	if _, raw := resp.Data[logical.HTTPRawBody]; raw {
		if js, err := json.Marshal(ev); err == nil {
			resp.Data[auditField] = string(js)
		}
		return resp
	}
	js, err := auditJSON(ev)
	if err != nil {
		return resp
	}
	if resp.Headers == nil {
		resp.Headers = map[string][]string{}
	}
	resp.Headers[auditHeader] = []string{js}
	return resp
}

// auditJSON is the event as a header value: printable ASCII only (a
// non-ASCII character of an encryption context is a JSON \u escape) and at
// most maxAuditHeader bytes. An event too large loses its parameters and
// results first; then its longest text (an error message quoting a 30 KB
// input, a key ARN as long as the path that named it) is cut, so the cap
// holds whatever the client sent.
func auditJSON(ev auditEvent) (string, error) {
	for {
		raw, err := json.Marshal(ev)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, r := range string(raw) {
			switch {
			case r < utf8.RuneSelf && r != 0x7f: // DEL is a control character, which HTTP clients refuse in a header
				b.WriteRune(r)
			case r > 0xFFFF:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
			default:
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		}
		if b.Len() <= maxAuditHeader {
			return b.String(), nil
		}
		if !ev.Truncated {
			ev.RequestParameters, ev.ResponseElements, ev.Truncated = nil, nil, true
			continue
		}
		longest := &ev.ErrorMessage
		for _, f := range []*string{&ev.KeyArn, &ev.EventName, &ev.ErrorCode} {
			if len(*f) > len(*longest) {
				longest = f
			}
		}
		if *longest == "" {
			return b.String(), nil // cannot happen: an empty event is tiny
		}
		*longest = cutText(*longest)
	}
}

// cutText halves a text (by characters), marking the cut.
func cutText(s string) string {
	r := []rune(s)
	if len(r) < 16 {
		return ""
	}
	return string(r[:len(r)/2]) + "..."
}

func (b *backend) auditEvent(ctx context.Context, req *logical.Request, resp *logical.Response, err error) auditEvent {
	var ev auditEvent
	var out map[string]any
	if resp != nil {
		out = resp.Data
	}
	if strings.HasPrefix(req.Path, awsapi.PathPrefix) && (len(req.Path) == len(awsapi.PathPrefix) || req.Path[len(awsapi.PathPrefix)] == '/') {
		ev.EventName, _ = awsapi.OperationName(req)
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
	var ke *kmserr.Error
	if errors.As(err, &ke) {
		ev.ErrorCode, ev.ErrorMessage = ke.Type, ke.Msg
	} else if err != nil {
		ev.ErrorCode = kmserr.Internal
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
			return c.arns().Key(id)
		}
	}
	return ""
}

// auditEventName is the AWS operation a Vault-style request performs: the
// one awsapi.Operations serves by the same path and operation.
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
	for name, o := range awsapi.Operations {
		if b.awsRoutes[name] != p {
			continue
		}
		if o.Op == op {
			return name
		}
		// Vault sends a write to a path with an existence check as create
		// or update; only aliases tell them apart (CreateAlias, UpdateAlias).
		if op == logical.CreateOperation && o.Op == logical.UpdateOperation {
			fallback = name
		}
	}
	return fallback
}

// auditPathKey is the key the path names (key_id), if any.
func auditPathKey(b *backend, req *logical.Request) string {
	p := b.Route(req.Path)
	if p == nil {
		return ""
	}
	return pathCaptures(p, req.Path)["key_id"]
}
