//! What every command shares: the output, the deployment, the account and its key, the
//! clients.

use std::{path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use weft_api::TransactionStatus;
use weft_protocol::signature::SigningKey;

use crate::{
    error::{CliError, CliResult},
    keys::{Keys, Passwords},
    network::Network,
    output::{Output, Progress},
};

/// The shared context of a command.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) out: Output,
    pub(crate) net: Network,
    pub(crate) home: PathBuf,
    /// The account's name (`--account`).
    pub(crate) account: String,
    pub(crate) keys: Keys,
    pub(crate) passwords: Passwords,
    /// How long a command waits for a status before giving up.
    pub(crate) timeout: Duration,
}

/// An unlocked account: its L1 signer and its L2 signing key (the same secp256k1 key).
pub(crate) struct Unlocked {
    pub(crate) signer: PrivateKeySigner,
    pub(crate) key: SigningKey,
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocked")
            .field("address", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// The sequencer's client.
    pub(crate) fn api(&self) -> weft_api::Client {
        weft_api::Client::new(self.net.l2_url())
    }

    /// The account's address (no password needed).
    pub(crate) fn address(&self) -> CliResult<Address> {
        self.keys.address(&self.account)
    }

    /// Decrypts the account's key.
    pub(crate) fn unlock(&self) -> CliResult<Unlocked> {
        let signer = self.keys.unlock(&self.account, &self.passwords)?;
        let key = SigningKey::from_bytes(&signer.to_bytes())
            .map_err(|e| CliError::key(format!("the keystore's key: {e}")))?;
        Ok(Unlocked { signer, key })
    }

    /// A read-only L1 provider.
    pub(crate) fn l1(&self) -> CliResult<DynProvider> {
        let url = self.l1_url()?;
        Ok(ProviderBuilder::new().connect_http(url).erased())
    }

    /// An L1 provider sending the account's transactions (nonce, gas and fees filled).
    pub(crate) fn l1_signing(&self, signer: &PrivateKeySigner) -> CliResult<DynProvider> {
        let url = self.l1_url()?;
        Ok(ProviderBuilder::new()
            .wallet(EthereumWallet::new(signer.clone()))
            .connect_http(url)
            .erased())
    }

    fn l1_url(&self) -> CliResult<alloy::transports::http::reqwest::Url> {
        self.net
            .l1_rpc()
            .parse()
            .map_err(|e| CliError::usage(format!("L1 RPC URL {}: {e}", self.net.l1_rpc())))
    }

    /// The fee of the account's L2 transactions: `--fee`, else the sequencer's minimum.
    pub(crate) async fn fee(&self, fee: Option<u128>) -> CliResult<u128> {
        match fee {
            Some(fee) => Ok(fee),
            None => Ok(self.api().chain().await?.fee.min_fee),
        }
    }

    /// Waits until transaction `hash` reaches `target` (or fails), showing its progress.
    pub(crate) async fn wait_status(
        &self,
        hash: &B256,
        target: TransactionStatus,
        progress: &Progress,
    ) -> CliResult<weft_api::TransactionView> {
        let api = self.api();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut seen: Option<TransactionStatus> = None;
        loop {
            if let Some(view) = api.transaction(hash).await? {
                if seen != Some(view.status) {
                    if let Some(previous) = seen {
                        progress.done(status_name(previous));
                    }
                    progress.set(format!(
                        "{}; waiting for {}",
                        status_name(view.status),
                        status_name(target)
                    ));
                    seen = Some(view.status);
                }
                if view.status == TransactionStatus::Failed {
                    return Err(CliError::new(
                        view.reason.as_deref().unwrap_or("failed"),
                        format!(
                            "transaction {hash} failed in block {}",
                            view.block_number.unwrap_or(0)
                        ),
                        crate::error::exit::REFUSED,
                    ));
                }
                if rank(view.status) >= rank(target) {
                    progress.done(status_name(view.status));
                    return Ok(view);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CliError::timeout(format!(
                    "transaction {hash} is {} after {:?}, not {} (raise --timeout)",
                    seen.map_or("unknown", status_name),
                    self.timeout,
                    status_name(target)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A status's order on the way to finality (`failed` is terminal and ranks with `executed`).
pub(crate) fn rank(status: TransactionStatus) -> u8 {
    match status {
        TransactionStatus::Queued => 0,
        TransactionStatus::Executed | TransactionStatus::Failed => 1,
        TransactionStatus::Committed => 2,
        TransactionStatus::Proven => 3,
        TransactionStatus::Finalized => 4,
    }
}

/// A status as the API writes it.
pub(crate) fn status_name(status: TransactionStatus) -> &'static str {
    match status {
        TransactionStatus::Queued => "queued",
        TransactionStatus::Executed => "executed",
        TransactionStatus::Failed => "failed",
        TransactionStatus::Committed => "committed",
        TransactionStatus::Proven => "proven",
        TransactionStatus::Finalized => "finalized",
    }
}

/// Parses a status as the API writes it.
pub(crate) fn parse_status(text: &str) -> Result<TransactionStatus, String> {
    Ok(match text {
        "queued" => TransactionStatus::Queued,
        "executed" => TransactionStatus::Executed,
        "committed" => TransactionStatus::Committed,
        "proven" => TransactionStatus::Proven,
        "finalized" => TransactionStatus::Finalized,
        other => {
            return Err(format!(
                "{other:?}: one of queued, executed, committed, proven, finalized"
            ));
        }
    })
}
