#!/usr/bin/env bash
# `make devnet`: a local Weft on one machine, with SQLite and nothing to install but npm's
# anvil. Starts anvil (installed from npm if missing), deploys the L1 contracts, starts the
# sequencer with its L1 side on, the prover and the channel hub, prints every endpoint with
# its port and the funded dev keys, and runs until Ctrl-C, which stops everything in the
# reverse order of the start (hub, prover, sequencer: it drains its mempool and writes a
# snapshot; then anvil). Keys reach the services as files under $data/keys (mode 0600),
# never as flag values.
#
# Every run starts a fresh chain, so the data directory is wiped at start. Knobs (env):
#   WEFT_DEVNET_DATA        data directory            (data/devnet)
#   WEFT_DEVNET_L1_PORT     anvil's port              (8545)
#   WEFT_DEVNET_LISTEN      the sequencer's API       (127.0.0.1:8547)
#   WEFT_DEVNET_PROVER_LISTEN  the prover's health    (127.0.0.1:8548)
#   WEFT_DEVNET_HUB_LISTEN  the channel hub           (127.0.0.1:8549)
#   WEFT_DEVNET_BLOCK_TIME  anvil's block time, s     (1; deposits confirm after 2 blocks)
#   WEFT_DEVNET_PROFILE     cargo profile             (release)
#   WEFT_DEV_ACCOUNTS       funded L2 dev accounts    (10)
#   WEFT_DEVNET_MIN_FEE     smallest fee admitted     (1; `fee_too_low` below it)
#   WEFT_DEVNET_FINALIZATION_DELAY  seconds between a proof and finalization (0: the prover
#                           finalizes right after proving, so `proven` is hardly ever seen;
#                           give e.g. 10 to watch a batch sit in `proven`)
#   WEFT_ANVIL              an anvil binary to use instead of npm's
#   CARGO, CARGO_TARGET_DIR as for cargo
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

cargo=${CARGO:-cargo}
profile=${WEFT_DEVNET_PROFILE:-release}
data=${WEFT_DEVNET_DATA:-$root/data/devnet}
l1_port=${WEFT_DEVNET_L1_PORT:-8545}
listen=${WEFT_DEVNET_LISTEN:-127.0.0.1:8547}
prover_listen=${WEFT_DEVNET_PROVER_LISTEN:-127.0.0.1:8548}
hub_listen=${WEFT_DEVNET_HUB_LISTEN:-127.0.0.1:8549}
block_time=${WEFT_DEVNET_BLOCK_TIME:-1}
dev_accounts=${WEFT_DEV_ACCOUNTS:-10}
min_fee=${WEFT_DEVNET_MIN_FEE:-1}
finalization_delay=${WEFT_DEVNET_FINALIZATION_DELAY:-0}
l1_rpc=http://127.0.0.1:$l1_port
l2_url=http://$listen

# anvil's default dev accounts (its fixed mnemonic): public test keys, never for real funds.
# Account 0 deploys the contracts and is the sequencer (it signs commitBatch); account 2 is
# the prover the attestation verifier accepts; the others are funded users (account 1 is
# the README's depositor).
sequencer_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
sequencer_address=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
user_key=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
user_address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
prover_key=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
prover_address=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'devnet: %s\n' "$*" >&2; exit 1; }

# --- anvil, from npm if missing ------------------------------------------------------------
anvil_bin() {
  if [[ -n ${WEFT_ANVIL:-} ]]; then echo "$WEFT_ANVIL"; return; fi
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=win32 ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  echo "$root/node_modules/@foundry-rs/anvil-$os-$arch/bin/anvil"
}
anvil=$(anvil_bin)
if [[ ! -x $anvil ]]; then
  log "installing anvil from npm (npm ci)"
  command -v npm >/dev/null || die "npm is needed to install anvil (or set WEFT_ANVIL)"
  npm ci --no-audit --no-fund
  [[ -x $anvil ]] || die "anvil is still missing at $anvil"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  local port=$1 what=$2 pid=$3
  for _ in $(seq 1 300); do
    port_open "$port" && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited; see its log in $data"
    sleep 0.1
  done
  die "$what does not listen on port $port"
}
port_open "$l1_port" && die "port $l1_port is in use (another anvil?); set WEFT_DEVNET_L1_PORT"
port_open "${listen##*:}" && die "$listen is in use; set WEFT_DEVNET_LISTEN"
port_open "${prover_listen##*:}" && die "$prover_listen is in use; set WEFT_DEVNET_PROVER_LISTEN"
port_open "${hub_listen##*:}" && die "$hub_listen is in use; set WEFT_DEVNET_HUB_LISTEN"

# --- build ---------------------------------------------------------------------------------
# The whole workspace, as every Makefile entry builds it (one feature set, so what `make
# bench` built in release is reused here; see the Makefile's BUILD).
log "building the workspace's binaries ($profile)"
# shellcheck disable=SC2086 # WEFT_DEVNET_BUILD is a list of arguments
"$cargo" ${WEFT_DEVNET_BUILD:-build --workspace --bins --examples} --profile "$profile"
target=${CARGO_TARGET_DIR:-$root/target}
[[ $profile == dev ]] && bin=$target/debug || bin=$target/$profile

rm -rf "$data"
mkdir -p "$data"

# Secrets go to the services as files only readable by this user (never as flag values,
# which `ps` shows to everyone).
mkdir -p -m 0700 "$data/keys"
key_file() { # name hex-key -> path of a 0600 file holding it
  local path=$data/keys/$1.key
  (umask 077 && printf '%s\n' "$2" >"$path")
  echo "$path"
}

# --- stop everything on Ctrl-C, in order ---------------------------------------------------
# Children run in their own process groups (job control), so Ctrl-C reaches only this
# script, which stops them one by one.
set -m
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ ${#pids[@]} -gt 0 ]]; then log "stopped; logs and data in $data"; fi
}
trap 'status=$?; cleanup; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- L1 ------------------------------------------------------------------------------------
log "starting anvil on $l1_rpc (block time ${block_time}s)"
"$anvil" --port "$l1_port" --block-time "$block_time" >"$data/anvil.log" 2>&1 &
anvil_pid=$!
pids+=("$anvil_pid")
wait_port "$l1_port" anvil "$anvil_pid"

genesis_root=$("$bin/weft-sequencer" genesis-root --dev-accounts "$dev_accounts")
log "deploying the contracts (genesis root $genesis_root)"
WEFT_DEPLOYER_KEY=$sequencer_key "$bin/weft-deploy" --l1-rpc "$l1_rpc" \
  --sequencer "$sequencer_address" --prover "$prover_address" \
  --genesis-root "$genesis_root" --dev-genesis --forced-withdrawal-deadline 3600 --test-token \
  --finalization-delay "$finalization_delay" \
  >"$data/deployment.json"
field() { node -p "require('$data/deployment.json').$1"; }
rollup=$(field rollup)
verifier=$(field verifier)
token=$(field token)
deploy_block=$(field deployBlock)
l1_chain_id=$(field l1ChainId)

# --- sequencer -----------------------------------------------------------------------------
log "starting the sequencer on $l2_url"
"$bin/weft-sequencer" --sequencer-key-file "$(key_file sequencer "$sequencer_key")" \
  --data-dir "$data/sequencer" --listen "$listen" --dev-accounts "$dev_accounts" \
  --min-fee "$min_fee" --rollup-address "$rollup" --l1-rpc "$l1_rpc" --l1-from-block "$deploy_block" \
  --l1-poll-ms 500 >"$data/sequencer.log" 2>&1 &
sequencer_pid=$!
pids+=("$sequencer_pid")
wait_port "${listen##*:}" sequencer "$sequencer_pid"
# The L2 chain id, as JSON-RPC clients see it (eth_chainId on /rpc).
l2_chain_id=$(node -e '
  fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }) })
    .then((r) => r.json()).then((r) => console.log(Number(BigInt(r.result))))' "$l2_url/rpc") \
  || die "the sequencer does not answer eth_chainId on $l2_url/rpc"

# --- prover (prover-stub) ------------------------------------------------------------------
# Watches $l1_rpc for committed batches of $rollup, fetches their witnesses from $l2_url,
# re-executes them and attests with $prover_key (anvil account 2, the key the verifier
# accepts); it also finalizes proven batches.
log "starting the prover (health on http://$prover_listen/health)"
"$bin/weft-prover" --prover-key-file "$(key_file prover "$prover_key")" \
  --l1-rpc "$l1_rpc" --rollup-address "$rollup" --sequencer-url "$l2_url" \
  --data-dir "$data/prover" --listen "$prover_listen" --dev-accounts "$dev_accounts" \
  >"$data/prover.log" 2>&1 &
prover_pid=$!
pids+=("$prover_pid")
wait_port "${prover_listen##*:}" prover "$prover_pid"

# --- channel hub (channel-hub) -------------------------------------------------------------
# The hub signs with the last L2 dev account's key: funded at genesis, so it can match the
# wallets' deposits from the start.
read -r hub_index hub_address hub_key < <("$bin/weft-sequencer" dev-keys --dev-accounts "$dev_accounts" | tail -n 1) \
  || die "the hub needs an L2 dev account (WEFT_DEV_ACCOUNTS is 0)"
log "starting the channel hub on http://$hub_listen (L2 dev account $hub_index, $hub_address)"
# The hub runs its side of channel exits if the Rollup contract freezes; its key pays the L1
# gas, so its L1 address gets 100 ETH on anvil.
node -e 'fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_setBalance",
    params: [process.argv[2], "0x56bc75e2d63100000"] }) })
  .then((r) => r.json()).then((j) => { if (j.error) { console.error(j.error.message); process.exit(1); } })' \
  "$l1_rpc" "$hub_address" || die "could not fund the hub's L1 address"
"$bin/weft-channel-hub" --key-file "$(key_file hub "$hub_key")" --listen "$hub_listen" --data-dir "$data/hub" \
  --sequencer-url "$l2_url" --fee "$min_fee" --l1-rpc "$l1_rpc" --rollup-address "$rollup" \
  >"$data/hub.log" 2>&1 &
hub_pid=$!
pids+=("$hub_pid")
wait_port "${hub_listen##*:}" hub "$hub_pid"

# The network file the `weft` CLI finds by itself (data/devnet/network.json from the
# repository or below it; `--network-file` elsewhere).
node -e '
  const [file, l1Rpc, l2Url, hubUrl, l2ChainId] = process.argv.slice(1);
  const d = require(process.argv[6]);
  require("fs").writeFileSync(file, JSON.stringify({ l1Rpc, l2Url, hubUrl, rollup: d.rollup,
    token: d.token, verifier: d.verifier, deployBlock: d.deployBlock, l1ChainId: d.l1ChainId,
    l2ChainId: Number(l2ChainId) }, null, 2) + "\n");' \
  "$data/network.json" "$l1_rpc" "$l2_url" "http://$hub_listen" "$l2_chain_id" "$data/deployment.json"

if ((finalization_delay > 0)); then
  proven_note="a batch stays \`proven\` for ${finalization_delay}s (the finalization delay)"
else
  proven_note="finalization delay 0: \`proven\` passes unseen (WEFT_DEVNET_FINALIZATION_DELAY)"
fi
cat <<INFO

Weft devnet is running. Ctrl-C stops it.

  L1 (anvil)       $l1_rpc   chain id $l1_chain_id, a block every ${block_time}s
  L2 API           $l2_url/v1   (OpenAPI: $l2_url/v1/openapi.json)
  L2 JSON-RPC      $l2_url/rpc   (and ws://${l2_url#http://}/rpc; chain id $l2_chain_id)
  health, metrics  $l2_url/health   $l2_url/metrics
  prover           http://$prover_listen/health   http://$prover_listen/metrics
  channel hub      http://$hub_listen   (L2 account $hub_address, dev account $hub_index)
  Rollup           $rollup   (deployed in block $deploy_block)
  verifier         $verifier
  TestToken (WTT)  $token   (anyone can mint)
  logs, data       $data   (keys passed to the services: $data/keys)
  network file     $data/network.json   (the \`weft\` CLI reads it)
  fees             at least $min_fee per transaction (GET $l2_url/v1/chain)
  finality         executed within a block (100 ms), committed ~5 s, finalized ~6 s after
                   submission; $proven_note

L1 keys (anvil's dev accounts, 10000 ETH each):
  sequencer  $sequencer_address  $sequencer_key
  prover     $prover_address  $prover_key
  user       $user_address  $user_key   (anvil account 1)
  others     anvil accounts 3-9 (see $data/anvil.log)

L2 dev keys (funded at genesis, ETH only):
INFO
"$bin/weft-sequencer" dev-keys --dev-accounts "$dev_accounts" | while read -r i address key; do
  printf '  %2s  %s  %s\n' "$i" "$address" "$key"
done
echo

# Runs until Ctrl-C, or until one of the processes exits on its own.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "a devnet process ($pid) exited; stopping the others (logs in $data)"
      exit 1
    fi
  done
  sleep 1
done
