// Command callpath records the source files one request runs through, by
// coverage: built with -cover, it makes a mount and a key, writes the
// coverage counters, sends the request, writes them again; the blocks
// whose count grew are the request's. `make callpath` runs it for an
// encrypt (scripts/callpath.sh compares the two). It is a measurement, not
// part of the plugin. Build it with -cover -covermode=atomic.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime/coverage"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	kms "github.com/openkms/vault-plugin-kms"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: callpath <counter dir> (build with -cover)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "callpath:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	ctx := context.Background()
	conf := &logical.BackendConfig{StorageView: &logical.InmemStorage{}, System: logical.TestSystemView(),
		Config: map[string]string{}, Logger: nil}
	conf.System.(*logical.StaticSystemView).DefaultLeaseTTLVal = time.Hour
	b, err := kms.Factory(ctx, conf)
	if err != nil {
		return err
	}
	req := func(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
		resp, err := b.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data,
			Storage: conf.StorageView, ID: "callpath"})
		if err == nil && resp != nil && resp.IsError() {
			err = resp.Error()
		}
		return resp, err
	}
	resp, err := req(logical.UpdateOperation, "keys", map[string]any{})
	if err != nil {
		return err
	}
	id := resp.Data["key_id"].(string)
	enc := map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte("hello")),
		"encryption_context": map[string]any{"app": "callpath"}}
	// A first encrypt fills the caches; the measured one is the second, as
	// every request after the first.
	if _, err := req(logical.UpdateOperation, "encrypt/"+id, enc); err != nil {
		return err
	}
	if err := snapshot(filepath.Join(dir, "before")); err != nil {
		return err
	}
	if _, err := req(logical.UpdateOperation, "encrypt/"+id, enc); err != nil {
		return err
	}
	return snapshot(filepath.Join(dir, "after"))
}

// snapshot writes the coverage meta-data and counters into dir, which
// `go tool covdata textfmt` reads.
func snapshot(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := coverage.WriteMetaDir(dir); err != nil {
		return err
	}
	return coverage.WriteCountersDir(dir)
}
