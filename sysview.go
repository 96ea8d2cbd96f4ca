package kms

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// replicationStateTTL is how long a replication state read from Vault is
// reused.
const replicationStateTTL = time.Second

// cachedSystemView reuses Vault's answer to ReplicationState for a second.
// The SDK's framework asks for it on every request (to refuse operations
// marked for forwarding on a performance standby; this plugin marks none),
// and for an external plugin each ask is a gRPC round trip back to Vault:
// about 9% of the plugin's CPU on encrypt. A node's replication state
// changes only when replication is reconfigured.
type cachedSystemView struct {
	logical.SystemView
	now   func() time.Time
	state atomic.Pointer[replicationSnapshot]
}

type replicationSnapshot struct {
	state consts.ReplicationState
	at    time.Time
}

func newCachedSystemView(s logical.SystemView) *cachedSystemView {
	return &cachedSystemView{SystemView: s, now: time.Now}
}

func (s *cachedSystemView) ReplicationState() consts.ReplicationState {
	now := s.now()
	if c := s.state.Load(); c != nil && now.Sub(c.at) < replicationStateTTL && !now.Before(c.at) {
		return c.state
	}
	st := s.SystemView.ReplicationState()
	s.state.Store(&replicationSnapshot{state: st, at: now})
	return st
}
