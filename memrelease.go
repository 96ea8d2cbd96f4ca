package kms

import (
	"runtime/debug"
	"sync"
	"time"
)

// A batch of many items makes the heap grow by tens of MB (the SDK's
// copies of a 5 MB body and of the results). Go keeps that heap until its
// next collection, which an idle plugin reaches only by the runtime's
// 2-minute forced GC, and then hands pages back gradually; so after a burst
// of large batches the plugin's RSS stays high for minutes. releaseAfter
// returns the memory once no large batch has run for a while.
const (
	largeBatchItems = 100
	releaseDelay    = 10 * time.Second
)

type memoryReleaser struct {
	mu      sync.Mutex
	timer   *time.Timer
	delay   time.Duration
	release func()
}

// idleRelease is process-wide, as the heap is (one plugin process serves
// every mount).
var idleRelease = &memoryReleaser{delay: releaseDelay, release: debug.FreeOSMemory}

// arm (re)starts the countdown to a release.
func (r *memoryReleaser) arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.delay, r.release)
		return
	}
	r.timer.Reset(r.delay)
}
