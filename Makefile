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

## Runs the benchmarks; tables on stdout, JSON rows under target/weft-bench/: the executor
## micro-benchmark, then the end-to-end load generator (node + REST API + SQLite, signature
## ceiling and anvil on the same box; `weft-loadgen --help` for its knobs).
bench: deps
	$(CARGO) bench -p weft-protocol --bench executor
	$(CARGO) build --release -p weft-sequencer --bins
	$(CARGO) run --release -p weft-sequencer --bin weft-loadgen --

## fmt check + clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
