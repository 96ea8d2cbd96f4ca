package keypool

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A config write that leaves the pool sizes as they were must not throw
// away the pairs already generated (it did: every write restarted the pool).
func TestKeyPoolKeepsPairsWhenSizesUnchanged(t *testing.T) {
	p := New(rand.Reader)
	defer p.Close()
	sizes := map[string]int{"ECC_NIST_P256": 2}
	p.Configure(sizes)
	require.Eventually(t, func() bool { return p.Ready()["ECC_NIST_P256"] == 2 }, 10*time.Second, 10*time.Millisecond)
	// Take the pool's channel: the same sizes must keep this very channel.
	p.mu.Lock()
	before := p.pools["ECC_NIST_P256"]
	p.mu.Unlock()
	p.Configure(map[string]int{"ECC_NIST_P256": 2})
	p.mu.Lock()
	after := p.pools["ECC_NIST_P256"]
	p.mu.Unlock()
	require.True(t, before == after, "the pool was rebuilt for unchanged sizes")
	require.Equal(t, 2, len(after))
	// Other sizes do rebuild it.
	p.Configure(map[string]int{"ECC_NIST_P256": 1})
	p.mu.Lock()
	rebuilt := p.pools["ECC_NIST_P256"]
	p.mu.Unlock()
	require.False(t, before == rebuilt)
	require.Equal(t, 1, cap(rebuilt))
}
