//! The check behind an attestation. For a committed batch, given the state after the
//! previous batch, the batch's DA payload as posted on L1, the witness (the batch's
//! transactions with their signatures, from the sequencer) and the L1 queue entries:
//!
//! 1. every signed transaction of the witness carries a valid signature by its sender;
//! 2. the DA payload decodes to exactly the witness's blocks and transactions (EVM
//!    transactions less their signatures, which the payload leaves out);
//! 3. re-executing them from the previous state gives the committed state root,
//!    withdrawals root and queue position ([`weft_protocol::batch::apply_batch`]);
//! 4. the system transactions are exactly the L1 queue entries they claim to consume.

use rayon::prelude::*;
use weft_l1::CommitData;
use weft_protocol::{
    batch::{BatchError, apply_batch},
    eip712::Domain,
    execution::{BlockExecutor, ChainParams},
    primitives::B256,
    state::State,
    transaction::{SignedTransaction, Transaction},
};

/// A batch's witness: `GET /v1/batches/{index}/witness` of the sequencer.
pub use weft_api::{Witness, WitnessBlock, WitnessTransaction};

/// The chain parameters the sequencer publishes (`GET /v1/chain`).
pub type PublishedChain = weft_api::ChainInfo;

/// Compares the prover's own chain parameters with those the sequencer publishes: the
/// prover re-executes by its own, and a sequencer on other rules produces batches it must
/// refuse; saying so up front names the cause.
pub fn check_chain(ours: &ChainParams, theirs: &PublishedChain) -> Result<(), String> {
    if ours.domain != theirs.domain {
        return Err(format!(
            "the sequencer's domain is {:?}, the prover's {:?}",
            theirs.domain, ours.domain
        ));
    }
    if ours.dispute_window != theirs.dispute_window {
        return Err(format!(
            "the sequencer's dispute window is {} blocks, the prover's {}",
            theirs.dispute_window, ours.dispute_window
        ));
    }
    Ok(())
}

/// Why a batch is refused. The prover stays halted on such a batch.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A signed transaction has no signature, a bad one, or one by someone else.
    #[error("transaction {hash}: {reason}")]
    Signature {
        /// The transaction.
        hash: B256,
        /// Why.
        reason: String,
    },
    /// A system transaction carries a signature or a signed one lacks it.
    #[error("transaction {0}: signature presence does not match its kind")]
    SignatureShape(B256),
    /// The witness is for another batch or another block range.
    #[error("witness does not match the commitment: {0}")]
    WitnessRange(String),
    /// The payload does not decode to the witness.
    #[error("DA payload differs from the witness at {0}")]
    PayloadMismatch(String),
    /// Re-execution disagrees with the commitment.
    #[error(transparent)]
    Execution(#[from] BatchError),
    /// The system transactions are not the L1 queue's entries.
    #[error("queue entry {index}: L1 has {l1}, the batch has {batch}")]
    Queue {
        /// Queue index.
        index: u64,
        /// The entry hash on L1.
        l1: B256,
        /// The hash in the batch.
        batch: B256,
    },
}

impl Refusal {
    /// Stable code for metrics and `/health`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature { .. } | Self::SignatureShape(_) => "bad_signature",
            Self::WitnessRange(_) => "witness_range",
            Self::PayloadMismatch(_) => "payload_mismatch",
            Self::Execution(_) => "state_mismatch",
            Self::Queue { .. } => "queue_mismatch",
        }
    }
}

/// Checks every signature of the witness, in parallel; returns how many were checked.
pub fn check_signatures(witness: &Witness, domain: &Domain) -> Result<usize, Refusal> {
    let txs: Vec<&WitnessTransaction> = witness
        .blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .collect();
    txs.par_iter()
        .map(|t| match (&t.signature, t.transaction.is_system()) {
            (None, true) => {
                (t.transaction.hash(domain) == t.hash)
                    .then_some(0)
                    .ok_or(Refusal::Signature {
                        hash: t.hash,
                        reason: "hash differs".into(),
                    })
            }
            (Some(signature), false) => {
                let signed = SignedTransaction {
                    transaction: t.transaction.clone(),
                    signature: *signature,
                };
                let verified = signed.verify(domain).map_err(|e| Refusal::Signature {
                    hash: t.hash,
                    reason: e.to_string(),
                })?;
                (verified.hash == t.hash)
                    .then_some(1)
                    .ok_or(Refusal::Signature {
                        hash: t.hash,
                        reason: "hash differs".into(),
                    })
            }
            // An Ethereum transaction's envelope carries its signature: decoding it (the
            // witness's JSON) recovered its sender; its hash and chain are checked here.
            (None, false) if matches!(t.transaction, Transaction::Evm(_)) => {
                let Transaction::Evm(tx) = &t.transaction else {
                    unreachable!("matched above")
                };
                // One without its signature (the DA payload's form) proves nothing.
                if !tx.is_signed() {
                    return Err(Refusal::Signature {
                        hash: t.hash,
                        reason: "EVM transaction without its signature".into(),
                    });
                }
                tx.check_chain(domain.chain_id())
                    .map_err(|e| Refusal::Signature {
                        hash: t.hash,
                        reason: e.to_string(),
                    })?;
                (tx.hash() == t.hash)
                    .then_some(1)
                    .ok_or(Refusal::Signature {
                        hash: t.hash,
                        reason: "hash differs".into(),
                    })
            }
            _ => Err(Refusal::SignatureShape(t.hash)),
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))
}

/// The whole check (module docs) of the batch L1 shows `committed` (its commitment, and its
/// DA payload with the carrier that brought it). `queue_entries[i]` is the L1 entry hash of
/// queue index `state.queue_position() + i`. On success `state` is the state after the
/// batch.
pub fn check_batch(
    state: &mut State,
    chain: &ChainParams,
    committed: &CommitData,
    witness: &Witness,
    queue_entries: &[B256],
    executor: &mut dyn BlockExecutor,
) -> Result<(), Refusal> {
    let commitment = &committed.commitment;
    let range = witness
        .blocks
        .first()
        .zip(witness.blocks.last())
        .map(|(a, b)| (a.header.number, b.header.number));
    if witness.index != commitment.index
        || range != Some((commitment.from_block, commitment.to_block))
    {
        return Err(Refusal::WitnessRange(format!(
            "witness of batch {} blocks {range:?}, commitment of batch {} blocks {}..={}",
            witness.index, commitment.index, commitment.from_block, commitment.to_block
        )));
    }
    let domain = &chain.domain;
    check_signatures(witness, domain)?;
    let queue_before = state.queue_position();
    let mut scratch = state.clone();
    let blocks = apply_batch(
        &mut scratch,
        chain,
        commitment,
        &committed.payload,
        committed.carrier,
        executor,
    )?;
    for (decoded, w) in blocks.iter().zip(&witness.blocks) {
        let at = format!("block {}", w.header.number);
        if decoded.number != w.header.number
            || decoded.timestamp != w.header.timestamp
            || decoded.fee_recipient != w.header.fee_recipient
            || decoded.transactions.len() != w.transactions.len()
        {
            return Err(Refusal::PayloadMismatch(at));
        }
        // The payload carries EVM transactions without their signatures (checked above
        // from the witness): it must equal the witness's transactions less those.
        for (i, (d, t)) in decoded.transactions.iter().zip(&w.transactions).enumerate() {
            if *d != t.transaction.without_signature() {
                return Err(Refusal::PayloadMismatch(format!("{at}, transaction {i}")));
            }
        }
    }
    let system: Vec<B256> = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .filter(|t| t.is_system())
        .map(|t| t.hash(domain))
        .collect();
    for (i, batch) in system.iter().enumerate() {
        let index = queue_before + i as u64;
        let l1 = queue_entries.get(i).copied().unwrap_or_default();
        if l1 != *batch {
            return Err(Refusal::Queue {
                index,
                l1,
                batch: *batch,
            });
        }
    }
    *state = scratch;
    Ok(())
}
