package access

import (
	"context"
	"time"
)

// Attrs are the request parameters that key policy conditions can test
// beyond the encryption context. Handlers attach them to the context
// (WithAttrs) before authorizing, so authorization keeps its signature.
type Attrs struct {
	EncryptionAlgorithm string
	// ReEncrypt's two algorithms, for ReEncryptFrom and ReEncryptTo.
	SourceEncryptionAlgorithm, DestinationEncryptionAlgorithm string
	SigningAlgorithm                                          string
	MacAlgorithm                                              string
	KeyAgreementAlgorithm                                     string
	MessageType                                               string
	DataKeyPairSpec                                           string
	RequestAlias                                              string
	WrappingAlgorithm                                         string
	WrappingKeySpec                                           string
	ExpirationModel                                           string
	ValidTo                                                   time.Time
	// Grant parameters, for CreateGrant.
	GrantOperations     []string
	GrantConstraintType string
	// Every spelling of the grant's principals (ResolvedPrincipal).
	GranteePrincipal  []string
	RetiringPrincipal []string
	// Numbers and booleans that are absent when zero or nil.
	PendingWindowDays  int
	RotationPeriodDays int
	BypassLockout      *bool
	ReEncryptOnSameKey *bool
}

type attrsKey struct{}

// WithAttrs returns ctx with set applied to a copy of its attributes.
func WithAttrs(ctx context.Context, set func(*Attrs)) context.Context {
	a := Attrs{}
	if old, ok := ctx.Value(attrsKey{}).(*Attrs); ok {
		a = *old
	}
	set(&a)
	return context.WithValue(ctx, attrsKey{}, &a)
}

// AttrsFrom returns ctx's attributes (none set if it has none).
func AttrsFrom(ctx context.Context) *Attrs {
	if a, ok := ctx.Value(attrsKey{}).(*Attrs); ok {
		return a
	}
	return &Attrs{}
}
