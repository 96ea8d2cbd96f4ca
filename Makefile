# vault-plugin-kms. `make dev` and `make test` are all the set-up there is.
PLUGIN_VERSION ?= v0.1.0
PLUGIN_DIR     := bin/plugins
PLUGIN_BIN     := $(PLUGIN_DIR)/vault-plugin-kms
GO_LDFLAGS     := -X github.com/openkms/vault-plugin-kms.Version=$(PLUGIN_VERSION)
TEST_TIMEOUT   ?= 60m

.PHONY: all build vault deps dev dev-stop test unit integration fuzz bench bench-tools gobench fmt vet clean

all: build

build:
	go build -ldflags "$(GO_LDFLAGS)" -o $(PLUGIN_BIN) ./cmd/vault-plugin-kms

# The pinned Vault server, built from the module proxy once per machine.
vault:
	@scripts/vault.sh

deps:
	@scripts/deps.sh

dev: build deps
	@PLUGIN_VERSION=$(PLUGIN_VERSION) scripts/dev.sh

dev-stop:
	@if [ -f dev/vault.pid ]; then kill $$(cat dev/vault.pid) 2>/dev/null || true; rm -f dev/vault.pid; echo "dev Vault stopped"; fi

# Every test: unit tests, the integration tests against a real Vault that
# they start themselves (among them a one-second smoke run of `make bench`'s
# harness, TestBenchHarnessSmoke), and a short fuzz run of the ciphertext
# parser.
test: deps vet
	VAULT_BINARY=$$(scripts/vault.sh) PLUGIN_VERSION=$(PLUGIN_VERSION) \
		go test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz

unit:
	go test -count=1 ./keyspec/ .

integration: deps
	VAULT_BINARY=$$(scripts/vault.sh) PLUGIN_VERSION=$(PLUGIN_VERSION) \
		go test -count=1 -timeout $(TEST_TIMEOUT) -v ./integration/

FUZZTIME ?= 20s
fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./ciphertext/

# The end-to-end benchmark: the plugin, the floor plugin (an external plugin
# that only echoes) and Transit in one dev Vault, driven by cmd/kms-bench;
# writes the table and memory figures into BENCHMARKS.md. BENCH=suite or
# BENCH=memory runs one half; BENCH_ARGS go to kms-bench (e.g. -d 10s).
BENCH ?= all
bench: build bench-tools
	PLUGIN_VERSION=$(PLUGIN_VERSION) scripts/bench.sh $(BENCH) $(BENCH_ARGS)

bench-tools:
	go build -o $(PLUGIN_DIR)/floor-plugin ./cmd/floor-plugin
	go build -o bin/kms-bench ./cmd/kms-bench

# The Go micro-benchmarks (no Vault).
gobench:
	go test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w .

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...

clean:
	rm -rf bin dev
