# Weft: one command for each thing a person does. See README.md.
CARGO ?= cargo

.PHONY: devnet test bench gas lint fmt deps contracts

## A local Weft: anvil (from npm), the L1 contracts, the sequencer (SQLite) with its L1 side;
## prints the endpoints and the funded dev keys. Ctrl-C stops everything. See deploy/devnet.sh.
devnet:
	CARGO="$(CARGO)" deploy/devnet.sh

## Installs the npm dev tools (Foundry's cast and anvil) the tests use.
deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Recompiles the L1 contracts with the pinned solc (npm) and fails if the committed artifacts
## in deploy/contracts/out differ from the fresh build (commit them after changing a source).
contracts: deps
	node deploy/contracts/build.mjs
	git diff --exit-code -- deploy/contracts/out
	@untracked=$$(git ls-files --others --exclude-standard -- deploy/contracts/out); \
	if [ -n "$$untracked" ]; then echo "uncommitted artifacts: $$untracked"; exit 1; fi

## Runs every test of the workspace.
test: deps
	$(CARGO) test --workspace

## Runs the benchmarks; tables on stdout, JSON rows under target/weft-bench/: the executor
## micro-benchmark, then the end-to-end load generator (node + REST API + SQLite, signature
## ceiling and anvil on the same box; `weft-loadgen --help` for its knobs).
bench: deps
	$(CARGO) bench -p weft-protocol --bench executor
	$(CARGO) bench -p weft-protocol --bench da
	$(CARGO) bench -p weft-prover-stub --bench prover
	$(CARGO) bench -p weft-tests --bench hub
	$(CARGO) bench -p weft-sequencer --bench restart
	$(CARGO) build --release -p weft-sequencer --bins
	$(CARGO) run --release -p weft-loadgen --

## Prints the gas used by each L1 contract call, measured on anvil.
gas: deps
	$(CARGO) run -p weft-l1 --example gas

## fmt check + clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
