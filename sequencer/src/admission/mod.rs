//! Admission: what a submitted transaction goes through before the mempool.
//!
//! Cheapest first, so a flood of bad submissions costs little:
//! 1. shape: a signed, enabled kind; amounts, fee, token, domain echo (microseconds);
//! 2. state: nonce window and balance against the latest state, capacity, and whether the
//!    transaction is already known: resubmitting the same signed transaction (same hash,
//!    same signature) is idempotent and answers where it stands; any other signature goes
//!    through every check like a new transaction (and meets its stale or pending nonce);
//! 3. signature: one secp256k1 recovery per transaction on the signature pool, batches
//!    spread over every core;
//! 4. insert into the mempool, re-checking nonce and capacity under its lock.
//!
//! A batch carrying one transaction (one hash) more than once gives every later copy the
//! first copy's outcome, so a batch never acknowledges what it did not admit; a later copy
//! under another signature than an accepted first copy is refused as a second signature
//! of a transaction already accepted.

mod evm;

use std::{collections::HashMap, sync::Arc, time::Instant};

use rayon::prelude::*;
use serde::Deserialize;
use weft_protocol::{
    channel::MAX_LOCKS,
    codec::Encode,
    eip712::Domain,
    primitives::{Address, Amount, B256, Nonce, TokenId},
    signature::Signature,
    state::{Account, State},
    transaction::{SignedTransaction, Transaction},
};

use crate::{
    mempool::{MempoolError, PendingTx},
    node::Node,
};

pub(crate) use evm::{
    EvmAdmitted, admit_trusted as admit_trusted_evm, check_account as check_evm_account,
    check_shape_for as check_evm_shape,
};
pub use evm::{admit_raw, admit_raw_batch, geth_message};
pub use weft_api::Submission;

/// A submission as it arrives: [`Submission`] with the signature still text, so that a
/// malformed one (wrong length, `v` not 27 or 28, not hex) is refused with
/// `malformed_signature` by admission rather than as an unreadable body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Incoming {
    /// The transaction (a signed kind).
    pub transaction: Transaction,
    /// The sender's signature, `0x` and 65 bytes `r ‖ s ‖ v` once checked.
    pub signature: String,
    /// The `chainId` the client signed with, if it says.
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// The `verifyingContract` the client signed with, if it says.
    #[serde(default)]
    pub verifying_contract: Option<Address>,
}

impl From<SignedTransaction> for Incoming {
    fn from(s: SignedTransaction) -> Self {
        Self {
            transaction: s.transaction,
            signature: s.signature.to_string(),
            chain_id: None,
            verifying_contract: None,
        }
    }
}

impl From<Submission> for Incoming {
    fn from(s: Submission) -> Self {
        Self {
            transaction: s.transaction,
            signature: s.signature.to_string(),
            chain_id: s.chain_id,
            verifying_contract: s.verifying_contract,
        }
    }
}

/// The body of `POST /v1/transactions/batch` as it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingBatch {
    /// The submissions.
    pub transactions: Vec<Incoming>,
}

/// Where an accepted submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Newly admitted to the mempool.
    Queued,
    /// Already in the mempool (idempotent resubmission).
    AlreadyQueued,
    /// Already included in a stored block (idempotent resubmission).
    AlreadyIncluded {
        /// The block.
        block_number: u64,
        /// Whether it succeeded (a failed one consumed its nonce).
        success: bool,
    },
}

/// Why a submission was refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable detail.
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Whether it is the node's condition (full) rather than the transaction's fault.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.code, "mempool_full" | "not_leader")
    }

    /// Whether the transaction's nonce is beyond the sender's window: a gap its earlier
    /// transactions may still fill.
    pub fn is_nonce_gap(&self) -> bool {
        self.code == "nonce_too_high"
    }

    /// A follower's answer to a submission.
    pub(crate) fn not_leader() -> Self {
        Self::new(
            "not_leader",
            "this node follows the leader and takes no transactions: submit to the sequencer \
             or an admission node",
        )
    }
}

/// The result of one submission.
pub type Outcome = Result<(B256, Accepted), Rejection>;

/// A submission that passed the cheap checks.
struct Candidate {
    hash: B256,
    sender: Address,
    nonce: Nonce,
    size: usize,
    signed: SignedTransaction,
}

/// What a transaction moves out of its sender's balance: `(token, amount, fee)`, where the
/// token of a channel kind is its channel's (read from `state`).
fn required_funds(tx: &Transaction, state: &State) -> Result<(TokenId, Amount, Amount), Rejection> {
    let channel_token = |id: &B256| {
        state.channel(id).map(|c| c.token).ok_or_else(|| {
            Rejection::new("unknown_channel", format!("channel {id} does not exist"))
        })
    };
    Ok(match tx {
        Transaction::Transfer(t) => (t.token, t.amount, t.fee),
        Transaction::Withdraw(t) => (t.token, t.amount, t.fee),
        Transaction::ChannelOpen(t) => (t.token, t.amount, t.fee),
        Transaction::ChannelDeposit(t) => (channel_token(&t.channel_id)?, t.amount, t.fee),
        Transaction::ChannelClose(t)
        | Transaction::ChannelRegister(t)
        | Transaction::ChannelRefute(t) => (channel_token(&t.state.channel_id)?, 0, t.fee),
        Transaction::ChannelConclude(t) => (channel_token(&t.channel_id)?, 0, t.fee),
        Transaction::RevealSecret(t) => (0, 0, t.fee),
        Transaction::Deposit(_) | Transaction::ForcedWithdraw(_) => {
            return Err(Rejection::new(
                "system_kind",
                "deposits and forced withdrawals come from L1",
            ));
        }
        Transaction::Evm(_) => {
            return Err(Rejection::new(
                "unsupported_kind",
                "Ethereum transactions are signed as such, not with EIP-712: submit the raw \
                 transaction with eth_sendRawTransaction",
            ));
        }
    })
}

/// Whether the sender's `account` holds what `tx` moves out of it, in a token that exists.
fn check_funds(
    state: &State,
    tx: &Transaction,
    account: Option<&Account>,
) -> Result<(), Rejection> {
    let (token, amount, fee) = required_funds(tx, state)?;
    if token >= state.token_count() {
        return Err(Rejection::new(
            "unknown_token",
            format!("token {token} was never deposited"),
        ));
    }
    let balance = account.map_or(0, |a| a.balance(token));
    if balance < amount + fee {
        return Err(Rejection::new(
            "insufficient_balance",
            format!("balance {balance} of token {token} cannot pay {amount} plus fee {fee}"),
        ));
    }
    Ok(())
}

/// The checks an admission node makes against a follower's state (its latest replayed
/// block, a little behind the leader's): a nonce below the account's is refused (nonces
/// only grow, so it is too low on the leader as well), and the balance must cover what
/// the transaction moves, as the leader's own admission requires against its latest
/// state. Nothing is checked against the pending queue, which only the leader holds, so a
/// nonce ahead of the account's passes (the leader answers a gap).
pub(crate) fn check_account(state: &State, tx: &Transaction) -> Result<(), Rejection> {
    let (sender, nonce, _) = tx.signer_fields().expect("a signed kind");
    let account = state.account_by_address(&sender);
    let next = account.map_or(0, |a| a.nonce);
    if nonce < next {
        return Err(mempool_rejection(MempoolError::NonceTooLow {
            got: nonce,
            next,
        }));
    }
    check_funds(state, tx, account)
}

/// How a transaction refused for its nonce stands if it is this very signed transaction,
/// already included (resubmitting is idempotent, for the same signature only).
pub(crate) async fn included(node: &Node, hash: &B256, signature: Signature) -> Option<Accepted> {
    match node.store.transaction(hash).await {
        Ok(Some(stored)) if stored.signature == Some(signature) => {
            Some(Accepted::AlreadyIncluded {
                block_number: stored.block_number,
                success: stored.receipt.status == weft_protocol::execution::Status::Success,
            })
        }
        _ => None,
    }
}

/// Step 1: the shape of one submission (no state, no signature recovery); the signature
/// parsed.
pub(crate) fn check_shape(
    domain: &Domain,
    min_fee: Amount,
    sub: &Incoming,
) -> Result<Signature, Rejection> {
    if let Some(chain) = sub.chain_id
        && chain != domain.chain_id()
    {
        return Err(Rejection::new(
            "wrong_chain_id",
            format!(
                "signed for chain {chain}, this chain is {}",
                domain.chain_id()
            ),
        ));
    }
    if let Some(contract) = sub.verifying_contract
        && contract != domain.verifying_contract()
    {
        return Err(Rejection::new(
            "wrong_contract",
            format!(
                "signed for contract {contract}, this deployment is {}",
                domain.verifying_contract()
            ),
        ));
    }
    let tx = &sub.transaction;
    if tx.is_system() {
        return Err(Rejection::new(
            "system_kind",
            "deposits and forced withdrawals come from L1",
        ));
    }
    let signature: Signature =
        sub.signature
            .parse()
            .map_err(|e: weft_protocol::error::SignatureError| {
                Rejection::new(e.code(), e.to_string())
            })?;
    if signature.is_high_s() {
        return Err(Rejection::new(
            "high_s_signature",
            "signature s is in the upper half of the curve order",
        ));
    }
    let (_, _, fee) = tx.signer_fields().expect("signed kind");
    if fee < min_fee {
        return Err(Rejection::new(
            "fee_too_low",
            format!("fee {fee} is below the minimum {}", min_fee),
        ));
    }
    let moved = match tx {
        Transaction::Transfer(t) => Some(t.amount),
        Transaction::Withdraw(t) => Some(t.amount),
        Transaction::ChannelOpen(t) => Some(t.amount),
        Transaction::ChannelDeposit(t) => Some(t.amount),
        _ => None,
    };
    if moved == Some(0) {
        return Err(Rejection::new("zero_amount", "amount must be positive"));
    }
    if moved.unwrap_or(0).checked_add(fee).is_none() {
        return Err(Rejection::new(
            "amount_overflow",
            "amount plus fee exceeds 2^128 - 1",
        ));
    }
    let shape = match tx {
        Transaction::Transfer(t) if t.from == t.to => Err(Rejection::new(
            "self_transfer",
            "sender and receiver are the same",
        )),
        Transaction::ChannelOpen(t) if t.from == t.hub => Err(Rejection::new(
            "self_channel",
            "a wallet cannot open a channel with itself",
        )),
        Transaction::ChannelClose(t)
        | Transaction::ChannelRegister(t)
        | Transaction::ChannelRefute(t)
            if t.wallet_signature.len() != Signature::LEN
                || t.hub_signature.len() != Signature::LEN =>
        {
            Err(Rejection::new(
                "invalid_co_signature",
                "co-signatures must be 65 bytes",
            ))
        }
        Transaction::ChannelClose(t)
        | Transaction::ChannelRegister(t)
        | Transaction::ChannelRefute(t)
            if t.state.locks.len() > MAX_LOCKS =>
        {
            Err(Rejection::new(
                "too_many_locks",
                format!("at most {MAX_LOCKS} locks"),
            ))
        }
        _ => Ok(()),
    };
    shape.map(|()| signature)
}

/// A later copy (same hash) of a batch's submission.
struct LaterCopy {
    index: usize,
    first: usize,
    /// Whether it is the same signed transaction as the first copy.
    same_signature: bool,
    /// Its own shape check, for a copy under another signature.
    shape: Result<Signature, Rejection>,
}

/// The outcome of a later copy of a batch's submission, given the first copy's.
fn copy_outcome(first: &Outcome, copy: LaterCopy) -> Outcome {
    match first {
        Err(_) => first.clone(),
        Ok(_) if copy.same_signature => first.clone(),
        Ok((hash, accepted)) => {
            copy.shape?;
            let (code, place) = match accepted {
                Accepted::Queued | Accepted::AlreadyQueued => ("nonce_already_pending", "queued"),
                Accepted::AlreadyIncluded { .. } => ("nonce_too_low", "included"),
            };
            Err(Rejection::new(
                code,
                format!("transaction {hash} is already {place} under another signature"),
            ))
        }
    }
}

/// Admits a batch of submissions; one outcome per submission, in order.
pub async fn admit(node: &Arc<Node>, subs: Vec<impl Into<Incoming>>) -> Vec<Outcome> {
    if node.follower {
        return subs
            .into_iter()
            .map(|_| Err(Rejection::not_leader()))
            .collect();
    }
    admit_with(node, subs, Signatures::Recover).await
}

/// Admits signed transactions whose signatures an admission node has recovered already
/// (the leader's ingress from JetStream, [`crate::ingress`]): every check of [`admit`] but
/// the recovery.
pub async fn admit_verified(node: &Arc<Node>, txs: Vec<SignedTransaction>) -> Vec<Outcome> {
    admit_with(node, txs, Signatures::Trusted).await
}

/// Whether admission recovers the signatures itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signatures {
    /// Recover and check each (submissions from clients).
    Recover,
    /// Checked before (by an admission node whose publishing the stream trusts).
    Trusted,
}

async fn admit_with(
    node: &Arc<Node>,
    subs: Vec<impl Into<Incoming>>,
    signatures: Signatures,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; subs.len()];
    let mut candidates: Vec<(usize, Candidate)> = Vec::with_capacity(subs.len());
    let mut stale: Vec<(usize, B256, Signature, Rejection)> = Vec::new();
    let mut copies: Vec<LaterCopy> = Vec::new();
    {
        // Steps 1 and 2 under brief locks: state (read), then mempool.
        let mut firsts: HashMap<B256, (usize, String)> = HashMap::with_capacity(subs.len());
        for (i, sub) in subs.into_iter().map(Into::into).enumerate() {
            let hash = sub.transaction.hash(&node.domain);
            if let Some((first, signature)) = firsts.get(&hash) {
                let same_signature = signature.eq_ignore_ascii_case(&sub.signature);
                copies.push(LaterCopy {
                    index: i,
                    first: *first,
                    same_signature,
                    shape: check_shape(&node.domain, node.config.min_fee, &sub),
                });
                continue;
            }
            firsts.insert(hash, (i, sub.signature.clone()));
            let signature = match check_shape(&node.domain, node.config.min_fee, &sub) {
                Ok(signature) => signature,
                Err(r) => {
                    outcomes[i] = Some(Err(r));
                    continue;
                }
            };
            let (sender, nonce, _) = sub.transaction.signer_fields().expect("signed kind");
            let signed = SignedTransaction {
                transaction: sub.transaction,
                signature,
            };
            let size = signed.to_bytes().len();
            candidates.push((
                i,
                Candidate {
                    hash,
                    sender,
                    nonce,
                    size,
                    signed,
                },
            ));
        }
        let state = read_state(node);
        let pool = node.mempool.lock();
        candidates.retain(|(i, c)| {
            // The same signed transaction again; another signature is checked as new (and
            // meets its pending nonce).
            if pool
                .get(&c.hash)
                .is_some_and(|p| p.signature == c.signed.signature)
            {
                outcomes[*i] = Some(Ok((c.hash, Accepted::AlreadyQueued)));
                return false;
            }
            let account = state.account_by_address(&c.sender);
            let state_nonce = account.map_or(0, |a| a.nonce);
            if let Err(e) = pool.check(&c.sender, c.nonce, c.size, state_nonce, None) {
                let rejection = mempool_rejection(e);
                if matches!(e, MempoolError::NonceTooLow { .. }) {
                    // Maybe a resubmission of an included transaction: look it up below.
                    stale.push((*i, c.hash, c.signed.signature, rejection));
                } else {
                    outcomes[*i] = Some(Err(rejection));
                }
                return false;
            }
            if let Err(r) = check_funds(&state, &c.signed.transaction, account) {
                outcomes[*i] = Some(Err(r));
                return false;
            }
            true
        });
    }
    for (i, hash, signature, rejection) in stale {
        outcomes[i] = Some(match included(node, &hash, signature).await {
            Some(accepted) => Ok((hash, accepted)),
            None => Err(rejection),
        });
    }

    // Step 3: signatures, on the signature pool.
    let verified = match signatures {
        Signatures::Recover => recover_all(node, candidates).await,
        Signatures::Trusted => candidates
            .into_iter()
            .map(|(i, c)| (i, c, Ok(())))
            .collect(),
    };

    // Step 4: insert, re-checking under the lock.
    let received = Instant::now();
    let mut admitted = 0u64;
    {
        let state = read_state(node);
        let mut pool = node.mempool.lock();
        for (i, candidate, checked) in verified {
            outcomes[i] = Some(checked.and_then(|()| {
                let state_nonce = state
                    .account_by_address(&candidate.sender)
                    .map_or(0, |a| a.nonce);
                let hash = candidate.hash;
                pool.insert(
                    PendingTx {
                        hash,
                        sender: candidate.sender,
                        nonce: candidate.nonce,
                        size: candidate.size,
                        gas: 0,
                        signature: candidate.signed.signature,
                        transaction: candidate.signed.transaction,
                        received,
                    },
                    state_nonce,
                )
                .map_err(mempool_rejection)?;
                node.announce_pending(hash);
                admitted += 1;
                Ok((hash, Accepted::Queued))
            }));
        }
        node.metrics.mempool_txs.set(pool.len() as i64);
        node.metrics.mempool_bytes.set(pool.bytes() as i64);
    }
    if admitted > 0 {
        node.metrics.admitted.inc_by(admitted);
        node.ready.notify_one();
    }
    for copy in copies {
        let first = outcomes[copy.first]
            .clone()
            .expect("a first copy has its outcome");
        let index = copy.index;
        outcomes[index] = Some(copy_outcome(&first, copy));
    }
    settled(node, outcomes)
}

/// Every submission's outcome, the refusals counted in the metrics.
pub(crate) fn settled<T>(
    node: &Node,
    outcomes: Vec<Option<Result<T, Rejection>>>,
) -> Vec<Result<T, Rejection>> {
    outcomes
        .into_iter()
        .map(|o| {
            let o = o.expect("every submission has an outcome");
            if let Err(r) = &o {
                node.metrics.reject(r.code);
            }
            o
        })
        .collect()
}

/// Recovers every candidate's signer on the signature pool.
async fn recover_all(
    node: &Arc<Node>,
    candidates: Vec<(usize, Candidate)>,
) -> Vec<(usize, Candidate, Result<(), Rejection>)> {
    if candidates.is_empty() {
        return Vec::new();
    }
    on_signature_pool(node, move || {
        candidates
            .into_par_iter()
            .map(|(i, c)| {
                let result = c
                    .signed
                    .verify_hash(c.hash)
                    .map(|_| ())
                    .map_err(|e| Rejection::new(e.code(), e.to_string()));
                (i, c, result)
            })
            .collect()
    })
    .await
}

/// Runs `job` on the signature pool (every core) and waits for it without holding an async
/// worker.
pub(crate) async fn on_signature_pool<T: Send + 'static>(
    node: &Node,
    job: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    node.signature_pool.spawn(move || {
        let _ = tx.send(job());
    });
    rx.await.expect("the signature pool never drops a job")
}

/// A read lock on the state. The block builder holds the write lock while it executes a
/// block (milliseconds); on a multi-threaded runtime the wait happens off the async
/// workers, so the HTTP server keeps serving other requests meanwhile.
pub(crate) fn read_state(node: &Node) -> parking_lot::RwLockReadGuard<'_, State> {
    if let Some(guard) = node.state.try_read() {
        return guard;
    }
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| node.state.read())
        }
        _ => node.state.read(),
    }
}

pub(crate) fn mempool_rejection(e: MempoolError) -> Rejection {
    Rejection::new(e.code(), e.to_string())
}

#[cfg(test)]
mod tests {
    use weft_protocol::{signature::SigningKey, transaction::Transfer};

    use super::*;

    #[test]
    fn every_submission_reads_as_incoming() {
        let key = SigningKey::from_seed(b"incoming");
        let signed = Transaction::Transfer(Transfer {
            from: key.address(),
            to: Address::repeat_byte(2),
            token: 0,
            amount: 5,
            fee: 1,
            nonce: 0,
        })
        .sign(&key, &Domain::new(7, Address::repeat_byte(3)));
        let mut sub = Submission::from(signed);
        sub.chain_id = Some(7);
        sub.verifying_contract = Some(Address::repeat_byte(3));
        let json = serde_json::to_value(&sub).unwrap();
        let incoming: Incoming = serde_json::from_value(json).unwrap();
        assert_eq!(incoming, Incoming::from(sub));
    }
}
