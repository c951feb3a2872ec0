# Weft: one command for each thing a person does. See README.md.
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# Every entry builds the same selection: the whole workspace with its dev-dependencies
# (examples need them; tests and benches too), so cargo resolves one feature set and a
# build made by one entry (`make bench`, `make devnet`, `make gas`) is reused by the others
# in the same profile. Building one package (`-p`) would resolve other features for the
# shared libraries (alloy, weft-l1, …) and rebuild them. deploy/devnet.sh builds the same.
BUILD := build --workspace --bins --examples

.PHONY: devnet test bench peers gas lint fmt deps contracts

## A local Weft: anvil (from npm), the L1 contracts, the sequencer (SQLite) with its L1 side;
## prints the endpoints and the funded dev keys. Ctrl-C stops everything. See deploy/devnet.sh.
devnet:
	CARGO="$(CARGO)" WEFT_DEVNET_BUILD="$(BUILD)" deploy/devnet.sh

## Installs the npm dev tools (Foundry's cast and anvil) the tests use, and the pinned
## schemathesis (PyPI, into $(TARGET_DIR)/schemathesis-venv) that sequencer/tests/schemathesis.rs runs.
deps: node_modules/.package-lock.json
	sequencer/tests/schemathesis/venv.sh >/dev/null

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Recompiles the L1 contracts and the EVM test contracts (crates/protocol/contracts) with the
## pinned solc (npm) and fails if the committed artifacts differ from the fresh build (commit
## them after changing a source).
CONTRACT_DIRS := deploy/contracts crates/protocol/contracts
contracts: deps
	for dir in $(CONTRACT_DIRS); do node deploy/contracts/build.mjs $$dir || exit 1; done
	git diff --exit-code -- $(addsuffix /out,$(CONTRACT_DIRS))
	@untracked=$$(git ls-files --others --exclude-standard -- $(addsuffix /out,$(CONTRACT_DIRS))); \
	if [ -n "$$untracked" ]; then echo "uncommitted artifacts: $$untracked"; exit 1; fi

## Runs every test of the workspace (schemathesis over /v1/openapi.json included: its
## Python environment is made by `make deps`).
test: deps
	$(CARGO) test --workspace

## Runs the benchmarks; tables on stdout, JSON rows under target/weft-bench/: the executor
## micro-benchmark, then the end-to-end load generator (node + REST API + SQLite, signature
## ceiling and anvil on the same box; `weft-loadgen --help` for its knobs), then its `--evm`
## mode (the same Ethereum transactions through eth_sendRawTransaction to Weft and anvil), and
## its `--feed` mode (1,000 live-feed subscribers through 30 s of transfers; every block must reach
## every subscriber), and `--jetstream` (the leader's rate from a preloaded NATS JetStream stream,
## admission elsewhere; needs NATS with JetStream at 127.0.0.1:4222).
bench: deps
	$(CARGO) bench --workspace --bench executor --bench evm --bench da --bench prover --bench hub --bench restart
	$(CARGO) $(BUILD) --release
	$(TARGET_DIR)/release/weft-loadgen
	$(TARGET_DIR)/release/weft-loadgen --evm
	$(TARGET_DIR)/release/weft-loadgen --feed
	$(TARGET_DIR)/release/weft-loadgen --jetstream

## Weft's EVM workloads on its peers, pevm and grevm, built in release from checkouts of their
## public repositories (target/peers/src/{pevm,grevm}, or PEVM_SRC / GREVM_SRC: see
## tools/peers/run.sh for the clone commands; nothing of theirs is in this repository) with a
## harness of ours (tools/peers/harness): sequential and parallel at 1 and 2 threads, medians
## of 5 blocks; a table on stdout (beside Weft's figures when target/weft-bench/evm.json is
## there), rows in $(TARGET_DIR)/weft-bench/peers.json. Not part of `make bench` or `make test`.
peers:
	CARGO="$(CARGO)" CARGO_TARGET_DIR="$(TARGET_DIR)" tools/peers/run.sh

## Prints the gas used by each L1 contract call, measured on anvil, then the two DA carriers
## (calldata, blobs) side by side: gas, blob gas, fee per transfer, and the break-even size.
gas: deps
	$(CARGO) $(BUILD)
	$(TARGET_DIR)/debug/examples/gas

## fmt check, clippy with warnings as errors, and the dependency rules (direction of the
## layers, nothing declared and unused; tools/check-deps.py).
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 tools/check-deps.py

fmt:
	$(CARGO) fmt --all
