# vault-plugin-kms. `make dev` and `make test` are all the set-up there is.
PLUGIN_VERSION ?= v0.1.0
PLUGIN_DIR     := bin/plugins
PLUGIN_BIN     := $(PLUGIN_DIR)/vault-plugin-kms
GO_LDFLAGS     := -X github.com/openkms/vault-plugin-kms.Version=$(PLUGIN_VERSION)
TEST_TIMEOUT   ?= 60m

.PHONY: all build vault deps dev dev-stop proxy proxy-stop test unit integration fuzz bench bench-tools gobench fmt vet clean

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

# Vault Proxy in front of the dev Vault, adding the token, for unmodified
# AWS tools (AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8100/v1/kms/aws).
proxy:
	@scripts/proxy.sh

proxy-stop:
	@if [ -f dev/proxy.pid ]; then kill $$(cat dev/proxy.pid) 2>/dev/null || true; rm -f dev/proxy.pid dev/proxy-token; echo "Vault Proxy stopped"; fi

# Every test: unit tests (with the race detector), the integration tests
# against a real Vault (and a raft cluster) that they start themselves
# (among them a one-second smoke run of `make bench`'s harness,
# TestBenchHarnessSmoke), and a short run of every fuzz target.
UNIT_PKGS = $$(go list ./... | grep -v /integration)
test: deps vet
	go test -count=1 -race -timeout $(TEST_TIMEOUT) $(UNIT_PKGS)
	VAULT_BINARY=$$(scripts/vault.sh) PLUGIN_VERSION=$(PLUGIN_VERSION) \
		go test -count=1 -timeout $(TEST_TIMEOUT) ./integration/
	$(MAKE) fuzz

unit:
	go test -count=1 -race $(UNIT_PKGS)

integration: deps
	VAULT_BINARY=$$(scripts/vault.sh) PLUGIN_VERSION=$(PLUGIN_VERSION) \
		go test -count=1 -timeout $(TEST_TIMEOUT) -v ./integration/

# Each fuzz target runs a fixed number of inputs, a few seconds each
# (go test -fuzz takes one target per run): package:target:count. A count,
# not a duration: a time limit can end a run with a spurious "context
# deadline exceeded" on a loaded machine. About a minute in all.
FUZZ_TARGETS ?= ./ciphertext/:FuzzParse:200000x ./ciphertext/:FuzzContext:150000x ./internal/access/:FuzzParsePolicy:20000x \
	.:FuzzGrantToken:20000x .:FuzzImportToken:40000x .:FuzzAWSRequest:30000x \
	./awspolicy/:FuzzParse:150000x ./awspolicy/:FuzzGlob:100000x
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; time=$${rest#*:}; \
		echo "fuzz $$name in $$pkg for $$time"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$time $$pkg; \
	done

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

# The reference at the end of docs/API.md, generated from the OpenAPI
# document; TestAPIReference (in make test) fails when it is not current.
.PHONY: docs
docs:
	go test -count=1 -run '^TestAPIReference$$' . -args -update-docs

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...

clean:
	rm -rf bin dev
