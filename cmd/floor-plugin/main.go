// Command floor-plugin is the smallest external Vault secrets plugin: one
// path, echo, that returns the request's data. Built with the same SDK as
// vault-plugin-kms, it measures what every request to any external plugin
// costs (the existence check, two gRPC round trips, the JSON passes), the
// floor under which the KMS plugin cannot go. `make bench` mounts it at
// floor/.
package main

import (
	"context"
	"os"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

func main() {
	meta := &api.PluginAPIClientMeta{}
	flags := meta.FlagSet()
	if err := flags.Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	if err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: factory,
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
	}); err != nil {
		fatal(err)
	}
}

func factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := &framework.Backend{
		Help:        "Echoes what is written to echo; a benchmark floor.",
		BackendType: logical.TypeLogical,
		Paths: []*framework.Path{{
			Pattern:             "echo$",
			TakesArbitraryInput: true,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: echo, Summary: "Return the request's data."},
			},
			HelpSynopsis: "Return the request's data.",
		}},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

func echo(_ context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	return &logical.Response{Data: req.Data}, nil
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
