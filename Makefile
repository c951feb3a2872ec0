# Weft: one command for each thing a person does. See README.md.
CARGO ?= cargo

.PHONY: test bench lint fmt deps

## Installs the npm dev tools (Foundry's cast and anvil) the tests use.
deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Runs every test of the workspace.
test: deps
	$(CARGO) test --workspace

## Runs the benchmarks; tables on stdout, JSON rows under target/weft-bench/.
bench:
	$(CARGO) bench -p weft-protocol --bench executor
	$(CARGO) bench -p weft-protocol --bench da
	$(CARGO) bench -p weft-channel-hub --bench hub

## fmt check + clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
