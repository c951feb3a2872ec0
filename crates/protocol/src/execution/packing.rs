//! Packing a block by the gas its transactions use rather than the gas they declare.
//!
//! The block gas rule is Ethereum's: an EVM transaction is refused with
//! [`FailureReason::BlockGasExceeded`] when its gas *limit* exceeds what the block has left
//! after the gas *used* by the transactions before it. Wallets declare limits well above use
//! (an ERC-20 transfer: 80k declared, 35k used), so a builder that takes transactions only
//! while their limits fit fills less than half the block. A builder may instead take more
//! limits than the block holds, execute, and then leave out of the block what did not fit,
//! for a later block, as geth's miner skips a transaction that does not fit and the rest of
//! its sender's.
//!
//! Leaving a transaction out must give the block that re-executing the rest would give,
//! byte for byte, or a replay (a standby, a rebuild from L1, the prover) would disagree.
//! [`left_out`] leaves out only refusals, which change nothing, and only those whose
//! addresses were indexed before the block: [`prepare`](super::prepare) indexes a block's
//! new addresses in block order whether or not their transaction succeeds, so dropping a
//! transaction that brought a new address would renumber the accounts after it. Such a
//! refusal stays in the block as failed, as it would without over-packing. The property
//! test `crates/protocol/tests/packing.rs` checks the equivalence on every workload.

use std::collections::HashSet;

use super::{FailureReason, Receipt, Status, prepare::addresses};
use crate::{
    primitives::{AccountIndex, Address},
    state::State,
    transaction::VerifiedTransaction,
};

/// The positions, ascending, of the transactions of an executed block that a builder leaves
/// out for a later block: each EVM transaction refused for
/// [`FailureReason::BlockGasExceeded`], and each later transaction of the same sender
/// refused for [`FailureReason::BadNonce`] (its nonce follows one that was not used), in
/// both cases only if every address it names was indexed before the block.
///
/// `state` is the state after the block; `accounts_before` its
/// [`State::account_count`] before it.
pub fn left_out(
    state: &State,
    accounts_before: AccountIndex,
    txs: &[VerifiedTransaction],
    receipts: &[Receipt],
) -> Vec<usize> {
    debug_assert_eq!(txs.len(), receipts.len());
    let known_before = |a: &Address| state.index_of(a).is_some_and(|i| i < accounts_before);
    // Senders with a transaction left out: their later nonces cannot have been used.
    let mut skipped: HashSet<Address> = HashSet::new();
    let mut out = Vec::new();
    for (i, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
        let Status::Failed(reason) = receipt.status else {
            continue;
        };
        let Some(sender) = tx.transaction.sender() else {
            continue;
        };
        let leave = match reason {
            FailureReason::BlockGasExceeded => true,
            FailureReason::BadNonce => skipped.contains(&sender),
            _ => false,
        };
        if leave
            && addresses(&tx.transaction)
                .iter()
                .flatten()
                .all(known_before)
        {
            skipped.insert(sender);
            out.push(i);
        }
    }
    out
}
