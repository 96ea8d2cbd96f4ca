package main

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestExitWhenOrphaned(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(4242)
	exited := make(chan struct{})
	go exitWhenOrphaned(func() int { return int(ppid.Load()) }, time.Millisecond, func() { close(exited) })
	select {
	case <-exited:
		t.Fatal("exited while the parent is alive")
	case <-time.After(50 * time.Millisecond):
	}
	ppid.Store(1) // reparented: the parent died
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit after the parent changed")
	}
}

// A process whose parent is already init has nothing to watch and must not
// exit.
func TestNoWatchUnderInit(t *testing.T) {
	done := make(chan struct{})
	go func() {
		exitWhenOrphaned(func() int { return 1 }, time.Millisecond, func() { t.Error("exited") })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("kept watching")
	}
}
