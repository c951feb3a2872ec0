//! The sequential reference executor: the specification of a block's result.

use alloy_primitives::map::B256Set;

use crate::{
    channel::ChannelRecord,
    error::BlockError,
    execution::{
        BlockEnv, BlockExecutor, BlockOutput,
        access::touched_positions,
        commit::{Effects, NewChannel, commit},
        mixed,
        prepare::{Prepared, Slot, prepare},
        rules::{BlockFacts, Ctx, apply},
    },
    primitives::{AccountIndex, Amount, B256, TokenId},
    state::{Account, State},
    transaction::VerifiedTransaction,
};

/// Applies transactions one by one, in block order, on the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct SequentialExecutor;

/// The state seen directly, one transaction at a time.
pub(crate) struct DirectCtx<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) block: u64,
    pub(crate) pending: B256Set,
    pub(crate) reveals: Vec<(u32, B256)>,
    /// The block's new-channel slots.
    pub(crate) opened: Vec<NewChannel>,
}

impl Ctx for DirectCtx<'_> {
    fn account(&mut self, idx: AccountIndex) -> &mut Account {
        self.state.account_mut(idx)
    }

    fn credit(&mut self, idx: AccountIndex, token: TokenId, amount: Amount) {
        self.state.account_mut(idx).credit(token, amount);
    }

    fn supply(&mut self, token: TokenId) -> &mut Amount {
        &mut self.state.supply[token as usize]
    }

    fn revealed_at(&self, hashlock: &B256) -> Option<u64> {
        let earlier = self.state.secrets.revealed.get(hashlock).copied();
        earlier.or_else(|| self.pending.contains(hashlock).then_some(self.block))
    }

    fn reveal(&mut self, hashlock: B256, tx: u32) {
        self.pending.insert(hashlock);
        self.reveals.push((tx, hashlock));
    }

    fn channel(&mut self, slot: Slot) -> Option<&mut ChannelRecord> {
        match slot {
            Slot::Table(pos) => Some(&mut self.state.channels.records[pos as usize]),
            Slot::New(s) => self.opened[s as usize].as_mut().map(|(_, record)| record),
            Slot::Missing => None,
        }
    }

    fn open_channel(&mut self, slot: u32, record: ChannelRecord, tx: u32) {
        let entry = &mut self.opened[slot as usize];
        debug_assert!(entry.is_none(), "a slot is opened once");
        *entry = Some((tx, record));
    }
}

/// Runs the prepared block in order against the state; shared with the parallel engine's
/// fallback.
pub(crate) fn run_in_order(state: &mut State, prepared: &Prepared, facts: &BlockFacts) -> Effects {
    let mut ctx = DirectCtx {
        state,
        block: facts.number,
        pending: B256Set::default(),
        reveals: Vec::new(),
        opened: vec![None; prepared.new_channels],
    };
    let receipts = prepared
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| apply(op, i as u32, facts, &mut ctx))
        .collect();
    Effects {
        receipts,
        deltas: Vec::new(),
        reveals: ctx.reveals,
        opened: ctx.opened,
    }
}

impl BlockExecutor for SequentialExecutor {
    fn execute_block(
        &mut self,
        state: &mut State,
        env: &BlockEnv,
        txs: &[VerifiedTransaction],
    ) -> Result<BlockOutput, BlockError> {
        let prepared = prepare(state, env, txs, None)?;
        let facts = BlockFacts::of(env, &prepared);
        if prepared.has_evm() {
            let (overlay, effects, gas_used) =
                mixed::run_in_order(state, env, &prepared, facts, txs);
            let mut touched = touched_positions(&prepared.ops, facts.fee_recipient);
            mixed::merge(state, overlay, &mut touched, None);
            let mut out = commit(state, env.number, txs, prepared, touched, effects, None);
            out.gas_used = gas_used;
            return Ok(out);
        }
        let effects = run_in_order(state, &prepared, &facts);
        let touched = touched_positions(&prepared.ops, facts.fee_recipient);
        Ok(commit(
            state, env.number, txs, prepared, touched, effects, None,
        ))
    }
}
