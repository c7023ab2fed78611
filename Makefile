# Everyday commands; each is a thin name for what the README documents.
# `make help` lists them.

GO ?= go
# Flags for `make bench`, e.g. BENCH_FLAGS=--quick or BENCH_FLAGS='--only e2e'.
BENCH_FLAGS ?=

.PHONY: help test race lint bench demo ci

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-6s %s\n", $$1, $$2}'

test: ## every test (the README's go test ./...)
	$(GO) test ./...

race: ## the fast tests under the race detector
	$(GO) test -race -short ./...

lint: ## golangci-lint at the pinned version (installed if missing), see .golangci.yml
	bash .ci/lint

bench: ## the benchmark table; BENCH_FLAGS=--quick for a look in a minute
	$(GO) run ./cmd/crmsync bench $(BENCH_FLAGS)

demo: ## the whole pipeline on embedded defaults, verified
	$(GO) run ./cmd/crmsync demo

ci: ## what CI runs: vet, lint, tests, race, demo
	bash .ci/run
