// Command vault-plugin-kms serves the KMS secrets engine to Vault.
package main

import (
	"os"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/plugin"

	kms "github.com/openkms/vault-plugin-kms"
)

func main() {
	apiClientMeta := &api.PluginAPIClientMeta{}
	flags := apiClientMeta.FlagSet()
	if err := flags.Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	tlsConfig := apiClientMeta.GetTLSConfig()
	tlsProviderFunc := api.VaultPluginTLSProvider(tlsConfig)
	logger := pluginLogger()
	servePprof(logger)
	setMemoryLimit(logger)

	if err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: kms.Factory,
		TLSProviderFunc:    tlsProviderFunc,
		Logger:             logger,
	}); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
