package kms

import (
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/openkms/vault-plugin-kms/internal/access"
	"github.com/openkms/vault-plugin-kms/internal/keystore"
)

// keyStoreDeps wires the key store to the backend: its clock (tests move
// it), its logger, the token key material ids are made under, and the key
// policy parser.
func (b *backend) keyStoreDeps() keystore.Deps {
	return keystore.Deps{
		Now:           func() time.Time { return b.now() },
		Random:        func() io.Reader { return b.random },
		Logger:        func() hclog.Logger { return b.Logger() },
		WriteSafe:     func() bool { return b.WriteSafeReplicationState() },
		TokenKey:      b.tokenKey,
		ARNs:          b.arns,
		DeleteGrants:  b.deleteAllGrants,
		ParsePolicy:   access.ParsePolicy,
		RefusedPolicy: access.RefusedPolicy,
		ReleaseHSM:    b.releaseHSM,
	}
}
