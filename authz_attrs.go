package kms

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// requestAttrs and withAttrs name access's request attributes for the
// handlers that set some before authorizing (access.Attrs, access.WithAttrs).
type requestAttrs = access.Attrs

func withAttrs(ctx context.Context, set func(*requestAttrs)) context.Context {
	return access.WithAttrs(ctx, set)
}

// withDecisionMemo marks a batch request's context (access.WithDecisionMemo).
func withDecisionMemo(ctx context.Context) context.Context {
	return access.WithDecisionMemo(ctx)
}

// withPolicyAttrs wraps every path operation so that the request
// parameters key policy conditions test (kms:EncryptionAlgorithm,
// kms:RequestAlias, ...) are in its context, on the Vault-style paths and
// the AWS endpoint alike (which runs the same handlers).
func withPolicyAttrs(paths []*framework.Path) {
	for _, p := range paths {
		for _, h := range p.Operations {
			po, ok := h.(*framework.PathOperation)
			if !ok || po.Callback == nil {
				continue
			}
			cb := po.Callback
			po.Callback = func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
				return cb(fieldAttrs(access.WithCallerMemo(ctx), d), req, d)
			}
		}
	}
}

// fieldAttrs reads the request attributes from the fields a path has. A
// batch request carries per-item values, so its attributes stay absent
// rather than answer for the wrong item.
func fieldAttrs(ctx context.Context, d *framework.FieldData) context.Context {
	if d == nil {
		return ctx
	}
	if _, batch := d.Raw["batch_input"]; batch {
		return ctx
	}
	str := func(name string) string {
		if _, ok := d.Schema[name]; !ok {
			return ""
		}
		// Get, not GetOk: a default (SYMMETRIC_DEFAULT, RAW) is what the
		// handler uses, so it is the truthful value.
		v, _, err := d.GetOkErr(name)
		if err != nil {
			return ""
		}
		if v == nil {
			v = d.Get(name)
		}
		s, _ := v.(string)
		return s
	}
	num := func(name string) int {
		if _, ok := d.Schema[name]; !ok {
			return 0
		}
		if v, ok, err := d.GetOkErr(name); ok && err == nil {
			n, _ := v.(int)
			return n
		}
		return 0
	}
	return withAttrs(ctx, func(a *requestAttrs) {
		a.EncryptionAlgorithm = str("encryption_algorithm")
		a.SourceEncryptionAlgorithm = str("source_encryption_algorithm")
		a.DestinationEncryptionAlgorithm = str("destination_encryption_algorithm")
		a.SigningAlgorithm = str("signing_algorithm")
		a.MacAlgorithm = str("mac_algorithm")
		a.KeyAgreementAlgorithm = str("key_agreement_algorithm")
		a.MessageType = str("message_type")
		a.DataKeyPairSpec = str("key_pair_spec")
		a.WrappingAlgorithm = str("wrapping_algorithm")
		a.WrappingKeySpec = str("wrapping_key_spec")
		a.ExpirationModel = str("expiration_model")
		if t, err := time.Parse(time.RFC3339, str("valid_to")); err == nil && a.ExpirationModel == keystore.ExpirationExpires {
			a.ValidTo = t
		}
		a.PendingWindowDays = num("pending_window_days")
		a.RotationPeriodDays = num("rotation_period_days")
		// ReEncrypt names two keys; which alias was meant for which
		// authorization is not known here, so neither is answered.
		if _, twoKeys := d.Schema["source_key_id"]; !twoKeys {
			a.RequestAlias = requestAlias(str("key_id"))
		}
	})
}

// requestAlias is the alias a request names its key by (alias/<name>, or
// an alias ARN), or "".
func requestAlias(ref string) string {
	if strings.HasPrefix(ref, "alias/") {
		return ref
	}
	if strings.HasPrefix(ref, "arn:") {
		if parts := strings.SplitN(ref, ":", 6); len(parts) == 6 && strings.HasPrefix(parts[5], "alias/") {
			return parts[5]
		}
	}
	return ""
}
