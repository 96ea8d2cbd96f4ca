package kms

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

type countingSystemView struct {
	logical.SystemView
	calls atomic.Int64
	state atomic.Uint32
}

func (s *countingSystemView) ReplicationState() consts.ReplicationState {
	s.calls.Add(1)
	return consts.ReplicationState(s.state.Load())
}

// Requests do not each ask Vault for the replication state (a gRPC round
// trip for an external plugin); a change is seen within the TTL.
func TestReplicationStateIsCached(t *testing.T) {
	conf := logical.TestBackendConfig()
	conf.StorageView = &logical.InmemStorage{}
	sys := &countingSystemView{SystemView: conf.System}
	conf.System = sys
	raw, err := Factory(context.Background(), conf)
	require.NoError(t, err)
	b := raw.(*backend)
	for range 20 {
		_, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "config", Storage: conf.StorageView})
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, sys.calls.Load(), "one ask for 20 requests")

	view := b.System().(*cachedSystemView)
	now := time.Now()
	view.now = func() time.Time { return now }
	sys.state.Store(uint32(consts.ReplicationPerformanceStandby))
	view.now = func() time.Time { return now.Add(2 * replicationStateTTL) }
	require.True(t, b.System().ReplicationState().HasState(consts.ReplicationPerformanceStandby))
}
