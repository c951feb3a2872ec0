#!/usr/bin/env bash
# Runs the JSON-RPC client tests (node --test tests/js/) against the pinned anvil on a free
# port, with anvil's default funded dev keys 0..2. Extra arguments go to `node --test`
# instead of the default `tests/js/` (e.g. tests/js/rpc_viem.test.mjs).
# ANVIL_CHAIN_ID (default 31337); ANVIL_BLOCK_TIME=0.1 seals blocks on a 100 ms interval like
# Weft instead of anvil's default automine (one block per transaction, at once).
set -euo pipefail
cd "$(dirname "$0")/../.."
chain_id="${ANVIL_CHAIN_ID:-31337}"
log="$(mktemp)"
node_modules/.bin/anvil --port 0 --chain-id "$chain_id" ${ANVIL_BLOCK_TIME:+--block-time "$ANVIL_BLOCK_TIME"} >"$log" 2>&1 &
anvil_pid=$!
trap 'kill "$anvil_pid" 2>/dev/null || true; wait "$anvil_pid" 2>/dev/null || true; rm -f "$log"' EXIT

port=""
for _ in $(seq 200); do
  port="$(sed -n 's/^Listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log")"
  [ -n "$port" ] && break
  kill -0 "$anvil_pid" 2>/dev/null || { cat "$log" >&2; echo "anvil exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "anvil did not start listening" >&2; exit 1; }

# anvil's default mnemonic ("test test ... junk"), accounts 0..2.
export WEFT_RPC_URL="http://127.0.0.1:$port"
export WEFT_WS_URL="ws://127.0.0.1:$port"
export WEFT_CHAIN_ID="$chain_id"
export WEFT_DEV_KEYS="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80,\
0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d,\
0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
echo "anvil (pid $anvil_pid) on $WEFT_RPC_URL, chain id $chain_id" >&2
node --test "${@:-tests/js/}"
