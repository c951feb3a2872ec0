//! The sequential reference executor: the specification of a block's result.

use alloy_primitives::map::B256Set;

use crate::{
    error::BlockError,
    execution::{
        BlockEnv, BlockExecutor, BlockOutput,
        access::touched_positions,
        commit::{Effects, commit},
        prepare::prepare,
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
    pub(crate) pending: B256Set,
    pub(crate) reveals: Vec<(u32, B256)>,
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

    fn is_revealed(&self, hashlock: &B256) -> bool {
        self.pending.contains(hashlock) || self.state.secrets.revealed.contains_key(hashlock)
    }

    fn reveal(&mut self, hashlock: B256, tx: u32) {
        self.pending.insert(hashlock);
        self.reveals.push((tx, hashlock));
    }
}

/// Runs `ops` in order against the state; shared with the parallel engine's fallback.
pub(crate) fn run_in_order(
    state: &mut State,
    ops: &[crate::execution::prepare::Op],
    facts: &BlockFacts,
) -> Effects {
    let mut ctx = DirectCtx {
        state,
        pending: B256Set::default(),
        reveals: Vec::new(),
    };
    let receipts = ops
        .iter()
        .enumerate()
        .map(|(i, op)| apply(op, i as u32, facts, &mut ctx))
        .collect();
    Effects {
        receipts,
        deltas: Vec::new(),
        reveals: ctx.reveals,
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
        let facts = BlockFacts {
            fee_recipient: prepared.fee_recipient,
            token_count: prepared.token_count,
        };
        let effects = run_in_order(state, &prepared.ops, &facts);
        let touched = touched_positions(&prepared.ops, facts.fee_recipient);
        Ok(commit(
            state,
            env.number,
            txs,
            prepared.queue_position,
            touched,
            effects,
            None,
        ))
    }
}
