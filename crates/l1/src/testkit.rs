//! Test support: a fresh anvil with the contracts deployed.
//!
//! anvil comes from the npm package `@foundry-rs/anvil` pinned in the root `package.json`
//! (`npm ci` at the repository root installs it), or from `WEFT_ANVIL`. A missing anvil
//! panics with that fix: a test that needs L1 fails rather than skips.

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use alloy::{
    contract::SolCallBuilder,
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use weft_protocol::{eip712::Domain, signature::SigningKey, state::State};

use crate::{
    EcdsaAttestationVerifier, Rollup,
    Rollup::{BatchCommitment, RollupErrors},
    TestToken, attest, attestation_digest, commitment_hash,
    deploy::{DeployParams, deploy},
};

/// The deployment parameters.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The L2 chain id (the EIP-712 domain's `chainId`).
    pub l2_chain_id: u64,
    /// The state root of batch 0.
    pub genesis_state_root: B256,
    /// Seconds before an unserved forced withdrawal allows exodus.
    pub forced_withdrawal_deadline: u64,
    /// Seconds between a proof and finalization (0: a proof finalizes at once).
    pub finalization_delay: u64,
}

/// The L2 chain id of the test deployments.
pub const DEFAULT_L2_CHAIN_ID: u64 = 0x5745_4654;
/// One day: room for any finalization delay a test uses (the deadline must exceed the delay
/// by `deploy::MIN_PROVING_ALLOWANCE`).
pub const DEFAULT_FORCED_WITHDRAWAL_DEADLINE: u64 = 86_400;

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            l2_chain_id: DEFAULT_L2_CHAIN_ID,
            genesis_state_root: State::new().state_root(),
            forced_withdrawal_deadline: DEFAULT_FORCED_WITHDRAWAL_DEADLINE,
            finalization_delay: 0,
        }
    }
}

/// How anvil runs.
#[derive(Debug, Clone, Default)]
pub struct AnvilOptions {
    /// anvil's state file (`--state`): loaded at start if it exists, written when anvil
    /// stops, so [`Devnet::restart`] resumes the same chain.
    pub state: Option<PathBuf>,
}

/// anvil with `Rollup`, its `EcdsaAttestationVerifier` and a `TestToken` deployed.
///
/// anvil's first dev account deployed everything and is the sequencer; it is the default
/// sender of every transaction. The others (`accounts[1..]`) are funded users: pick one
/// with `.from(address)` on a call (a test that runs a sequencer posting with the first key
/// must not send from it too). Dropping the devnet stops anvil.
#[derive(Debug)]
pub struct Devnet {
    /// The deployment parameters.
    pub config: DevnetConfig,
    /// A provider that signs for every anvil dev account.
    pub provider: DynProvider,
    /// anvil's dev accounts; `accounts[0]` is the sequencer.
    pub accounts: Vec<Address>,
    /// Their private keys.
    pub keys: Vec<B256>,
    /// The L1 block the rollup was deployed in.
    pub deploy_block: u64,
    /// The key the verifier accepts attestations from.
    pub prover: SigningKey,
    /// The Rollup contract.
    pub rollup: Rollup::RollupInstance<DynProvider>,
    /// The verifier the rollup calls.
    pub verifier: EcdsaAttestationVerifier::EcdsaAttestationVerifierInstance<DynProvider>,
    /// An ERC-20 anyone can mint.
    pub token: TestToken::TestTokenInstance<DynProvider>,
    /// The L1 chain id.
    pub l1_chain_id: u64,
    anvil: Option<AnvilInstance>,
    port: u16,
    options: AnvilOptions,
}

impl Devnet {
    /// Starts anvil and deploys with `config`. Panics on failure (test support).
    pub async fn start(config: DevnetConfig) -> Self {
        Self::start_with(config, AnvilOptions::default()).await
    }

    /// Like [`Self::start`], with anvil run as `options` say.
    pub async fn start_with(config: DevnetConfig, options: AnvilOptions) -> Self {
        let anvil = spawn_anvil(None, &options);
        let port = anvil
            .endpoint_url()
            .port()
            .expect("anvil's endpoint has a port");
        let keys = anvil.keys();
        let mut wallet = EthereumWallet::new(PrivateKeySigner::from(keys[0].clone()));
        for key in &keys[1..] {
            wallet.register_signer(PrivateKeySigner::from(key.clone()));
        }
        let sequencer = anvil.addresses()[0];
        // Nonces from the node on every send (not alloy's default cache): tests send
        // transactions that revert in estimation, which would leave a cached nonce ahead.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet)
            .connect_http(anvil.endpoint_url())
            .erased();
        let l1_chain_id = anvil.chain_id();
        let prover = SigningKey::from_seed(b"weft-devnet-prover");
        let deployment = deploy(
            &provider,
            &DeployParams {
                sequencer,
                prover: prover.address(),
                genesis_state_root: config.genesis_state_root,
                l2_chain_id: config.l2_chain_id,
                forced_withdrawal_deadline: config.forced_withdrawal_deadline,
                finalization_delay: config.finalization_delay,
                test_token: true,
                // Tests run with the dev accounts' funded genesis.
                dev_genesis: true,
            },
        )
        .await
        .expect("deploy the contracts");
        let token = deployment.token.expect("the test token is deployed");
        Self {
            config,
            accounts: anvil.addresses().to_vec(),
            keys: keys
                .iter()
                .map(|k| B256::from_slice(&k.to_bytes()))
                .collect(),
            deploy_block: deployment.deploy_block,
            rollup: Rollup::new(deployment.rollup, provider.clone()),
            verifier: EcdsaAttestationVerifier::new(deployment.verifier, provider.clone()),
            token: TestToken::new(token, provider.clone()),
            provider,
            prover,
            l1_chain_id,
            anvil: Some(anvil),
            port,
            options,
        }
    }

    /// Stops anvil (gracefully: with [`AnvilOptions::state`] it writes its state). Calls to
    /// the chain fail until [`Self::restart`].
    ///
    /// Mining is switched off first, and the head left to settle: anvil's dump on SIGTERM
    /// reads its accounts and its blocks at separate moments, so a block mined in between
    /// lands in the reloaded state without its transactions, receipts and logs (seen in CI:
    /// `lastCommitted` counted a commit whose `BatchCommitted` event was gone; a loop of
    /// transfers stopped at random moments showed the sender's nonce ahead of the mined
    /// transfers in 2 runs of 3, and in none of 5 with mining switched off first). A real
    /// L1 node does not lose blocks that way. Transactions that arrive after this stay in
    /// anvil's pool and are lost with it, as a node going down loses its pool. The caller
    /// stops anything of its own that mines (`anvil_mine`).
    pub async fn stop(&mut self) {
        let _: Result<serde_json::Value, _> = self
            .provider
            .raw_request("evm_setAutomine".into(), (false,))
            .await;
        // A block being mined when automine went off lands within a moment (bounded: a
        // caller that left a miner running gets the old behaviour, not a hang).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut head = self.provider.get_block_number().await.ok();
        while std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.provider.get_block_number().await.ok();
            if now == head {
                break;
            }
            head = now;
        }
        drop(self.anvil.take());
    }

    /// Starts anvil again on the same port, from its state file if it has one.
    pub fn restart(&mut self) {
        assert!(self.anvil.is_none(), "anvil is running");
        self.anvil = Some(spawn_anvil(Some(self.port), &self.options));
    }

    /// Mines `blocks` empty blocks.
    pub async fn mine(&self, blocks: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_mine".into(), (blocks,))
            .await
            .expect("anvil_mine");
    }

    /// Replaces the newest `depth` blocks by as many empty ones: the transactions they held
    /// are gone (anvil does not return them to its pool).
    ///
    /// It first waits (up to 5 s) until anvil's pool is empty. Anvil's miner prunes a mined
    /// transaction from its pool after the block, and so after the receipt, is visible: a
    /// reorg in between rolls the sender's nonce back while the transaction is still ready,
    /// and automine can mine it again on the new chain, so the reorg would not orphan it.
    pub async fn reorg(&self, depth: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let status: serde_json::Value = self
                .provider
                .raw_request("txpool_status".into(), ())
                .await
                .expect("txpool_status");
            if status["pending"] == "0x0" && status["queued"] == "0x0" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _: serde_json::Value = self
            .provider
            .raw_request(
                "anvil_reorg".into(),
                (depth, Vec::<serde_json::Value>::new()),
            )
            .await
            .expect("anvil_reorg");
    }

    /// Turns mining on arrival on or off (off: transactions wait in the pool until
    /// [`Self::mine`]).
    pub async fn set_automine(&self, on: bool) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setAutomine".into(), (on,))
            .await
            .expect("evm_setAutomine");
    }

    /// The latest block number.
    pub async fn block_number(&self) -> u64 {
        self.provider
            .get_block_number()
            .await
            .expect("eth_blockNumber")
    }

    /// The sequencer's L1 address.
    pub fn sequencer(&self) -> Address {
        self.accounts[0]
    }

    /// Weft's EIP-712 domain for this deployment.
    pub fn domain(&self) -> Domain {
        Domain::new(self.config.l2_chain_id, *self.rollup.address())
    }

    /// The JSON-RPC endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Batch 0 as the contract sees it: the genesis root, block 0, nothing of the queue.
    pub fn genesis_batch(&self) -> BatchCommitment {
        BatchCommitment {
            newStateRoot: self.config.genesis_state_root,
            ..Default::default()
        }
    }

    /// The digest a proof of `c` attests on this deployment.
    pub fn attestation_digest(&self, c: &BatchCommitment) -> B256 {
        attestation_digest(*self.rollup.address(), self.l1_chain_id, commitment_hash(c))
    }

    /// The prover's attestation of `c`.
    pub fn attestation(&self, c: &BatchCommitment) -> Bytes {
        attest(&self.prover, &self.attestation_digest(c))
    }

    /// Commits `c` with payload `da` as the sequencer.
    pub async fn commit(&self, c: &BatchCommitment, da: &Bytes) -> TransactionReceipt {
        mined(self.rollup.commitBatch(c.clone(), da.clone())).await
    }

    /// Commits `c` with `payload` in blobs (`commitBatchBlobs`, an EIP-7594 sidecar);
    /// `c.daHash` is set to what the blobs commit to.
    pub async fn commit_blobs(
        &self,
        c: &mut BatchCommitment,
        payload: &[u8],
    ) -> TransactionReceipt {
        use alloy::eips::eip7594::BlobTransactionSidecarEip7594;
        use weft_protocol::da::blob;
        let blobs = blob::encode(payload);
        c.daHash = blob::blobs_da_hash(&blob::versioned_hashes(&blobs));
        let sidecar = BlobTransactionSidecarEip7594::try_from_blobs(blobs).expect("sidecar");
        let blob_fee = self
            .provider
            .get_blob_base_fee()
            .await
            .expect("blob base fee");
        mined(
            self.rollup
                .commitBatchBlobs(c.clone())
                .sidecar_7594(sidecar)
                .max_fee_per_blob_gas(blob_fee * 2),
        )
        .await
    }

    /// Proves `c` with the prover's attestation.
    pub async fn prove(&self, c: &BatchCommitment) -> TransactionReceipt {
        mined(self.rollup.proveBatch(c.index, self.attestation(c))).await
    }

    /// Moves L1 time forward by `seconds` and mines a block with the new time.
    pub async fn increase_time(&self, seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }

    /// Sets an account's ETH balance (anvil cheat).
    pub async fn set_balance(&self, account: Address, wei: U256) {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_setBalance".into(), (account, wei))
            .await
            .expect("anvil_setBalance");
    }

    /// Replaces the code at `account` (anvil cheat): empty code stands for a token that
    /// self-destructed or a metamorphic contract between two deployments.
    pub async fn set_code(&self, account: Address, code: Bytes) {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_setCode".into(), (account, code))
            .await
            .expect("anvil_setCode");
    }

    /// ETH balance of `account`.
    pub async fn eth_balance(&self, account: Address) -> U256 {
        self.provider
            .get_balance(account)
            .await
            .expect("eth_getBalance")
    }

    /// TestToken balance of `account`.
    pub async fn token_balance(&self, account: Address) -> U256 {
        self.token
            .balanceOf(account)
            .call()
            .await
            .expect("balanceOf")
    }
}

/// Spawns anvil on `port` (any free port if `None`).
fn spawn_anvil(port: Option<u16>, options: &AnvilOptions) -> AnvilInstance {
    let mut anvil = Anvil::at(anvil_bin());
    if let Some(port) = port {
        anvil = anvil.port(port);
    }
    if let Some(state) = &options.state {
        anvil = anvil.arg("--state").arg(state.as_os_str());
    }
    anvil.spawn()
}

/// The batch after `prev`: `blocks` blocks, the given roots, the queue consumed up to
/// `queue_position` (whose chain hash is `queue_hash`), and `da` as its payload.
pub fn next_batch(
    prev: &BatchCommitment,
    blocks: u64,
    new_state_root: B256,
    withdrawals_root: B256,
    (queue_position, queue_hash): (u64, B256),
    da: &[u8],
) -> BatchCommitment {
    BatchCommitment {
        index: prev.index + 1,
        fromBlock: prev.toBlock + 1,
        toBlock: prev.toBlock + blocks,
        prevStateRoot: prev.newStateRoot,
        newStateRoot: new_state_root,
        withdrawalsRoot: withdrawals_root,
        queuePosition: queue_position,
        queueHash: queue_hash,
        daHash: keccak256(da),
    }
}

/// Sends a call and waits for its receipt; panics with the decoded Rollup error if it
/// reverts.
pub async fn mined<P: Provider, C: SolCall>(call: SolCallBuilder<P, C>) -> TransactionReceipt {
    let pending = match call.send().await {
        Ok(p) => p,
        Err(e) => panic!(
            "{} failed: {:?} ({e})",
            C::SIGNATURE,
            e.as_decoded_interface_error::<RollupErrors>()
        ),
    };
    // anvil mines on arrival; a transaction still pending after this is a bug, not a wait.
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await
        .unwrap_or_else(|e| panic!("{}: no receipt: {e}", C::SIGNATURE));
    assert!(receipt.status(), "{} reverted on chain", C::SIGNATURE);
    receipt
}

/// `WEFT_ANVIL`; else the native binary of npm's platform package
/// (`node_modules/@foundry-rs/anvil-<os>-<arch>/bin/anvil`). Panics with the fix if absent.
pub fn anvil_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("WEFT_ANVIL") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "WEFT_ANVIL={} is not a file; unset it and run `npm ci` at the repository root \
                 to install the pinned anvil",
                path.display()
            );
            return path;
        }
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
            "../../node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil{}",
            std::env::consts::EXE_SUFFIX
        ));
        assert!(
            path.is_file(),
            "anvil is not installed at {}: run `npm ci` at the repository root (it installs \
             @foundry-rs/anvil pinned in package.json), or set WEFT_ANVIL to an anvil binary",
            path.display()
        );
        path
    })
    .clone()
}
