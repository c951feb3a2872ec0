//! The chain's parameters and the node's health: `/v1/domain`, `/v1/chain`, `/v1/types`,
//! `/health`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_protocol::{
    eip712::Domain,
    primitives::{Amount, B256},
};

/// The chain parameters every client and every party to a channel needs
/// (`GET /v1/chain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    /// The EIP-712 domain transactions and channel states are signed under (as
    /// `/v1/domain`).
    pub domain: Domain,
    /// Blocks after a registration during which it can be refuted; concluded after.
    pub dispute_window: u64,
    /// What a transaction's `fee` must be.
    pub fee: FeeRule,
}

/// The fee rule admission applies: a signed transaction's `fee` is at least `minFee`,
/// paid in `token`; a lower one is refused with `fee_too_low`. The fee goes to the
/// sequencer's fee recipient, and is charged also when the transaction fails in its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeRule {
    /// The smallest fee admitted (a decimal string, in the fee token's base unit).
    #[serde(with = "weft_protocol::primitives::serde_dec")]
    #[schemars(with = "weft_protocol::schema::Amount")]
    pub min_fee: Amount,
    /// Which token pays the fee.
    pub token: FeeToken,
}

/// Which token pays a transaction's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FeeToken {
    /// `transaction`: the token the transaction moves: `token` of a transfer, withdraw or
    /// channelOpen; the channel's token for the other channel kinds; token 0 (ETH) for
    /// revealSecret.
    Transaction,
}

/// The EIP-712 domain and the typed-data types of every kind (`GET /v1/types`), so a
/// wallet can sign without reading Weft's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypesView {
    /// The domain as `eth_signTypedData` takes it.
    pub domain: Value,
    /// Every kind by its name: the camelCase `type` of a submission (`transfer`,
    /// `channelOpen`, …); each gives its EIP-712 struct name (`primaryType`, PascalCase:
    /// `Transfer`, `ChannelOpen`, …).
    pub kinds: BTreeMap<String, KindTypes>,
}

/// The typed-data description of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindTypes {
    /// The kind's EIP-712 struct name (PascalCase), the `primaryType` of its typed data.
    pub primary_type: String,
    /// The `types` member of typed data.
    pub types: Value,
    /// The EIP-712 `encodeType` string.
    pub encode_type: String,
}

/// The node's state in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    Ok,
    /// An L1 alert is raised (HTTP 200); blocks are still sealed.
    Degraded,
    /// The poster halted on a revert (HTTP 503); blocks are still sealed.
    Halted,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, `degraded` or `halted`.
    pub status: HealthStatus,
    /// The latest stored block.
    pub head: u64,
    /// Its hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub head_hash: B256,
    /// Transactions in the mempool.
    pub mempool: u64,
    /// The L1 side, when the node has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1: Option<L1Health>,
}

/// What the node reports about its L1 side, under `l1` of `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct L1Health {
    /// Whether the node has an L1 side.
    pub enabled: bool,
    /// The latest L1 block seen.
    pub head_block: Option<u64>,
    /// The newest L1 block the watcher has taken events from (`head - confirmations + 1`).
    pub safe_block: Option<u64>,
    /// `lastCommitted` on L1 at its latest block, as the poster last read it.
    pub last_committed: Option<u64>,
    /// Why the poster halted; it posts nothing more until the node restarts.
    pub poster_halted: Option<String>,
    /// Conditions that need an operator but do not stop the node, by source (`poster`,
    /// `watcher`): missing funds, an unreachable L1, a mismatch with the deployment.
    pub alerts: BTreeMap<String, String>,
}
