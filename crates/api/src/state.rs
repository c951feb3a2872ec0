//! Accounts, proofs, channels and blocks: what the latest state and the stored chain show.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_protocol::{
    block::BlockHeader,
    channel::ChannelRecord,
    execution::{Receipt, Status},
    primitives::{Address, Amount, B256, Bytes, Nonce, TokenId},
    signature::Signature,
    state::{AccountProof, Balance, ChannelProof, SecretProof},
    transaction::Transaction,
};

/// An account (`GET /v1/accounts/{address}`); an unknown address is an empty account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The address.
    #[schemars(with = "weft_protocol::schema::Address")]
    pub address: Address,
    /// Its dense index, once it has appeared (`null` before).
    pub index: Option<u32>,
    /// Nonce in the latest state.
    pub nonce: Nonce,
    /// The nonce its next submission must carry (counting pending transactions).
    pub next_nonce: Nonce,
    /// Non-zero balances.
    pub balances: Vec<Balance>,
}

impl AccountView {
    /// The balance of `token`.
    pub fn balance(&self, token: TokenId) -> Amount {
        self.balances
            .iter()
            .find(|b| b.token == token)
            .map_or(0, |b| b.amount)
    }
}

/// An account proof with the root it verifies against (`GET /v1/accounts/{address}/proof`):
/// the account, its leaf and the leaf's preimage, the combined leaf index, the siblings and
/// the rest of the state root's preimage; docs/api.md ("Verifying an account proof") gives
/// the rules that check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofView {
    /// The state root the proof verifies against.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub state_root: B256,
    /// The latest stored block when the proof was taken.
    pub block_number: u64,
    /// `keccak256(leafPreimage)`: the account's leaf.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub leaf: B256,
    /// `address ‖ uint64 nonce ‖ (uint32 token ‖ uint128 amount)*` (packed, non-zero
    /// balances sorted by token), as `0x` hex.
    #[schemars(with = "weft_protocol::schema::HexBytes")]
    pub leaf_preimage: Bytes,
    /// The index the siblings are folded at: `(index / 16) | ((index % 16) << 28)`.
    pub leaf_index: u64,
    /// The root the siblings fold to, the first word of the state root's preimage.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub accounts_root: B256,
    /// The proof: `index`, `account`, `siblings`, `channelsRoot`, `secretsRoot`,
    /// `tokensHash`, `queuePosition`.
    #[serde(flatten)]
    pub proof: AccountProof,
}

/// A channel as the rollup records it, with the participants' addresses
/// (`GET /v1/channels/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    /// The wallet's address.
    #[schemars(with = "weft_protocol::schema::Address")]
    pub wallet_address: Address,
    /// The hub's address.
    #[schemars(with = "weft_protocol::schema::Address")]
    pub hub_address: Address,
    /// The latest stored block when the record was read.
    pub block_number: u64,
    /// The record.
    #[serde(flatten)]
    pub record: ChannelRecord,
}

/// Everything `Rollup.exodusChannelStart` needs for a channel, taken from one state
/// (`GET /v1/channels/{id}/proof`): the record under the channels root and both
/// participants' accounts under the accounts root; either account proof carries the rest of
/// the state root's preimage (`Rollup.exodusProveRoots`). docs/l1.md, "Channels at exodus".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelProofView {
    /// The state root every proof here verifies against.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub state_root: B256,
    /// The latest stored block when the proofs were taken.
    pub block_number: u64,
    /// The record, its position in the channels tree and the siblings.
    pub channel: ChannelProof,
    /// The wallet's account proof.
    pub wallet: AccountProof,
    /// The hub's account proof.
    pub hub: AccountProof,
}

/// A revealed secret's leaf with its proof under the secrets root
/// (`GET /v1/secrets/{hashlock}/proof`, for `Rollup.exodusProveSecret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretProofView {
    /// The state root the proof verifies against (through `secretsRoot`).
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub state_root: B256,
    /// The latest stored block when the proof was taken.
    pub block_number: u64,
    /// The secrets root, the third word of the state root's preimage.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub secrets_root: B256,
    /// `hashlock`, `block`, `position`, `siblings`.
    #[serde(flatten)]
    pub proof: SecretProof,
}

/// A stored block (`GET /v1/blocks/{id}`): its header, hash and transaction hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// The header's fields.
    #[serde(flatten)]
    pub header: BlockHeader,
    /// The header's hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// Its transactions' hashes in order.
    #[schemars(with = "Vec<weft_protocol::schema::Hash>")]
    pub transactions: Vec<B256>,
}

/// A block's transactions (`GET /v1/blocks/{number}/transactions`), what a channel
/// watcher scans for registrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockTransactions {
    /// The block number.
    pub number: u64,
    /// The block hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// Its transactions in order.
    pub transactions: Vec<IncludedTransaction>,
}

/// A transaction included in a block, with its signature and receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncludedTransaction {
    /// Its hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
    /// Its signature (`null` for system kinds).
    pub signature: Option<Signature>,
    /// Its receipt.
    pub receipt: Receipt,
}

impl IncludedTransaction {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.receipt.status == Status::Success
    }
}
