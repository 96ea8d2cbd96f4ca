package kms

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// pausingStorage pauses one chosen Get after it has read storage and
// before it returns, so a test can land a write or an Invalidate between a
// reader's load and its cache fill.
type pausingStorage struct {
	logical.Storage
	mu      sync.Mutex
	key     string
	reached chan struct{}
	release chan struct{}
	// puts is closed by the first Put of putKey.
	putKey string
	puts   chan struct{}
}

// notifyPut returns a channel closed when key is next written.
func (p *pausingStorage) notifyPut(key string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.putKey, p.puts = key, make(chan struct{})
	return p.puts
}

func (p *pausingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	err := p.Storage.Put(ctx, e)
	p.mu.Lock()
	if p.putKey != "" && e.Key == p.putKey {
		p.putKey = ""
		close(p.puts)
	}
	p.mu.Unlock()
	return err
}

// Delete pauses, like Get, when key is the armed one (before deleting).
func (p *pausingStorage) Delete(ctx context.Context, key string) error {
	p.wait(key)
	return p.Storage.Delete(ctx, key)
}

// wait blocks, once, when key is the armed one: it signals reached and
// waits for release.
func (p *pausingStorage) wait(key string) {
	p.mu.Lock()
	armed := p.key != "" && key == p.key
	reached, release := p.reached, p.release
	if armed {
		p.key = ""
	}
	p.mu.Unlock()
	if armed {
		close(reached)
		<-release
	}
}

// pause arms the next Get of key; the test waits on reached, acts, then
// closes release.
func (p *pausingStorage) pause(key string) (reached, release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.reached, p.release = key, make(chan struct{}), make(chan struct{})
	return p.reached, p.release
}

func (p *pausingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	e, err := p.Storage.Get(ctx, key)
	p.wait(key)
	return e, err
}

var errInjected = errors.New("injected storage failure")

// faultStorage fails the Nth write (Put or Delete, counting from 1) after
// arm, or every write to keys with a chosen prefix.
type faultStorage struct {
	logical.Storage
	mu       sync.Mutex
	n, count int
	prefix   string
	readOnly bool
	// crash fails every write from the Nth on, as if the process died.
	crash bool
	// getPrefix fails every read of keys with this prefix.
	getPrefix string
}

func (f *faultStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	f.mu.Lock()
	fail := f.getPrefix != "" && strings.HasPrefix(key, f.getPrefix)
	f.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	return f.Storage.Get(ctx, key)
}

func (f *faultStorage) arm(n int, crash bool) {
	f.mu.Lock()
	f.n, f.count, f.crash = n, 0, crash
	f.mu.Unlock()
}

// writes reports how many writes happened since arm.
func (f *faultStorage) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

func (f *faultStorage) write(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readOnly {
		// As the plugin sees it across gRPC: the message, not the sentinel.
		return errors.New(logical.ErrReadOnly.Error())
	}
	if f.prefix != "" && strings.HasPrefix(key, f.prefix) {
		return errInjected
	}
	if f.n > 0 {
		f.count++
		if f.count == f.n || f.crash && f.count > f.n {
			return errInjected
		}
	}
	return nil
}

func (f *faultStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if err := f.write(e.Key); err != nil {
		return err
	}
	return f.Storage.Put(ctx, e)
}

func (f *faultStorage) Delete(ctx context.Context, key string) error {
	if err := f.write(key); err != nil {
		return err
	}
	return f.Storage.Delete(ctx, key)
}

// callCountingStorage counts storage calls.
type callCountingStorage struct {
	logical.Storage
	mu         sync.Mutex
	gets, list int
}

func (c *callCountingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Storage.Get(ctx, key)
}

func (c *callCountingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	c.mu.Lock()
	c.list++
	c.mu.Unlock()
	return c.Storage.List(ctx, prefix)
}

func (c *callCountingStorage) reset() (gets, lists int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets, lists = c.gets, c.list
	c.gets, c.list = 0, 0
	return gets, lists
}
