// Command vault-plugin-kms serves the KMS secrets engine to Vault.
package main

import (
	"os"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/plugin"

	kms "github.com/openkms/vault-plugin-kms"
)

// parentPollInterval is how often the plugin checks that the Vault which
// started it is still alive.
const parentPollInterval = time.Second

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

	go exitWhenOrphaned(os.Getppid, parentPollInterval, func() {
		hclog.New(&hclog.LoggerOptions{}).Warn("the Vault process that started this plugin is gone; exiting")
		os.Exit(0)
	})

	if err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: kms.Factory,
		TLSProviderFunc:    tlsProviderFunc,
		Logger:             logger,
	}); err != nil {
		fatal(err)
	}
}

// exitWhenOrphaned calls exit once the process's parent changes. Vault
// starts the plugin as its child and stops it over the plugin connection;
// a Vault killed with SIGKILL cannot, and go-plugin's server does not exit
// on its own, so without this every crash of Vault leaves a plugin
// process behind (reparented to init). Polling the parent pid works on
// every Unix, unlike Linux's PR_SET_PDEATHSIG, which also fires when the
// parent's forking thread (not the process) exits. A plugin started with
// init as its parent has no parent to watch.
func exitWhenOrphaned(getppid func() int, every time.Duration, exit func()) {
	start := getppid()
	if start <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if getppid() != start {
			exit()
			return
		}
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
