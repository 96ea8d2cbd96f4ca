// Package keypool pre-generates asymmetric key pairs for data key pairs.
package keypool

import (
	"io"
	"maps"
	"sync"

	"github.com/openkms/vault-plugin-kms/keyspec"
)

// Pool holds pre-generated key pairs for data key pairs, so a request
// for an RSA_4096 pair need not wait seconds for generation. It is bounded
// per spec, lives only in memory (never persisted), hands each pair out
// once, and refills in the background. A spec without a pool, or an empty
// pool, falls back to generating on the request.
type Pool struct {
	random io.Reader

	mu    sync.Mutex
	pools map[string]chan *keyspec.Key
	sizes map[string]int // what configure was last given
	stop  chan struct{}
	wg    sync.WaitGroup
}

func New(random io.Reader) *Pool {
	return &Pool{random: random, pools: map[string]chan *keyspec.Key{}}
}

// Configure replaces the pools with ones of the given sizes, discarding
// the pairs the old pools held. The same sizes again (a config write that
// changed something else, or a reload of the same config) keep the pools
// and their pre-generated pairs.
func (p *Pool) Configure(sizes map[string]int) {
	p.mu.Lock()
	same := p.stop != nil && maps.Equal(p.sizes, sizes)
	p.mu.Unlock()
	if same {
		return
	}
	p.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = maps.Clone(sizes)
	p.stop = make(chan struct{})
	p.pools = map[string]chan *keyspec.Key{}
	for name, n := range sizes {
		spec, ok := keyspec.Lookup(name)
		if !ok || n <= 0 {
			continue
		}
		ch := make(chan *keyspec.Key, n)
		p.pools[name] = ch
		p.wg.Add(1)
		go p.fill(spec, ch, p.stop)
	}
}

// fill keeps one pool full: the send blocks while the pool is full, so at
// most cap+1 pairs exist at a time.
func (p *Pool) fill(spec *keyspec.Spec, ch chan *keyspec.Key, stop chan struct{}) {
	defer p.wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		k, err := spec.Generate(p.random)
		if err != nil {
			return
		}
		select {
		case ch <- k:
		case <-stop:
			return
		}
	}
}

// Get returns a pair from the pool if one is ready, else a fresh one.
func (p *Pool) Get(spec *keyspec.Spec) (*keyspec.Key, error) {
	p.mu.Lock()
	ch := p.pools[spec.Name]
	p.mu.Unlock()
	if ch != nil {
		select {
		case k := <-ch:
			return k, nil
		default:
		}
	}
	return spec.Generate(p.random)
}

// Ready counts the pairs waiting in each pool.
func (p *Pool) Ready() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.pools))
	for name, ch := range p.pools {
		out[name] = len(ch)
	}
	return out
}

// Close stops the refill goroutines and drops every pooled pair.
func (p *Pool) Close() {
	p.mu.Lock()
	stop := p.stop
	p.stop = nil
	p.pools = map[string]chan *keyspec.Key{}
	p.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	p.wg.Wait()
}
