//! Blocks with EVM transactions: the in-order reference over the block's overlay, shared
//! pieces of the optimistic engine, and merging the overlay into the state.
//!
//! Native kinds and EVM transactions see one state: native kinds run against the same
//! overlay (through [`OverlayCtx`]) as the EVM, in block order, so an EVM transaction
//! reads what native kinds before it wrote and the other way round.

use alloy_primitives::map::B256Set;

use crate::{
    channel::ChannelRecord,
    evm::db::SlotRef,
    evm::{
        db::{BlockDb, Overlay, Published, View},
        exec::{self, Evm, Run},
    },
    execution::{
        BlockEnv, FailureReason, Receipt, Status,
        access::{Key, for_each_access},
        commit::{Effects, NewChannel},
        prepare::{Op, Prepared, Slot},
        rules::{BlockFacts, Ctx, apply},
    },
    primitives::{AccountIndex, Amount, B256, ETH, TokenId, U256},
    state::{Account, PARTITIONS, State, partition_of, position_of, slot_key},
    transaction::{Transaction, VerifiedTransaction},
};

/// Native kinds over the block's overlay.
pub(crate) struct OverlayCtx<'a> {
    pub(crate) state: &'a State,
    pub(crate) overlay: &'a mut Overlay,
    pub(crate) natives: &'a mut NativeEffects,
    pub(crate) block: u64,
}

/// What native kinds of a block produce besides account writes.
#[derive(Debug, Default)]
pub(crate) struct NativeEffects {
    pending: B256Set,
    pub(crate) reveals: Vec<(u32, B256)>,
    pub(crate) opened: Vec<NewChannel>,
}

impl NativeEffects {
    pub(crate) fn new(new_channels: usize) -> Self {
        Self {
            opened: vec![None; new_channels],
            ..Self::default()
        }
    }
}

impl Ctx for OverlayCtx<'_> {
    fn account(&mut self, idx: AccountIndex) -> &mut Account {
        let state = self.state;
        self.overlay.accounts.entry(idx).or_insert_with(|| {
            state
                .account(idx)
                .expect("prepare indexed every account a native kind names")
                .clone()
        })
    }

    fn credit(&mut self, idx: AccountIndex, token: TokenId, amount: Amount) {
        self.account(idx).credit(token, amount);
    }

    fn supply(&mut self, token: TokenId) -> &mut Amount {
        let state = self.state;
        let supply = self
            .overlay
            .supply
            .get_or_insert_with(|| state.supply.clone());
        &mut supply[token as usize]
    }

    fn revealed_at(&self, hashlock: &B256) -> Option<u64> {
        let earlier = self.state.secrets.revealed.get(hashlock).copied();
        earlier.or_else(|| {
            self.natives
                .pending
                .contains(hashlock)
                .then_some(self.block)
        })
    }

    fn reveal(&mut self, hashlock: B256, tx: u32) {
        self.natives.pending.insert(hashlock);
        self.natives.reveals.push((tx, hashlock));
    }

    fn channel(&mut self, slot: Slot) -> Option<&mut ChannelRecord> {
        match slot {
            Slot::Table(pos) => {
                let state = self.state;
                Some(
                    self.overlay
                        .channels
                        .entry(pos)
                        .or_insert_with(|| state.channels.records[pos as usize].clone()),
                )
            }
            Slot::New(s) => self.natives.opened[s as usize]
                .as_mut()
                .map(|(_, record)| record),
            Slot::Missing => None,
        }
    }

    fn open_channel(&mut self, slot: u32, record: ChannelRecord, tx: u32) {
        let entry = &mut self.natives.opened[slot as usize];
        debug_assert!(entry.is_none(), "a slot is opened once");
        *entry = Some((tx, record));
    }
}

/// The EVM transaction of a block position.
pub(crate) fn evm_tx(tx: &VerifiedTransaction) -> &crate::evm::EvmTransaction {
    match &tx.transaction {
        Transaction::Evm(t) => t,
        _ => unreachable!("an Op::Evm lowers an EVM transaction"),
    }
}

/// Whether `tx` only moves ETH to an account without code (in the state before the block):
/// it costs about what committing it costs, so speculating it cannot pay. A guess for
/// choosing a schedule, not a rule of execution: an account that gets code during the block
/// runs its code either way.
pub(crate) fn plain_transfer(state: &State, tx: &VerifiedTransaction) -> bool {
    let Transaction::Evm(tx) = &tx.transaction else {
        return false;
    };
    tx.input().is_empty()
        && tx.to().is_some_and(|to| {
            to != crate::evm::predeploy::WITHDRAWALS
                && state
                    .index_of(&to)
                    .and_then(|i| state.code_hash(i))
                    .is_none()
        })
}

/// The running totals of a block's EVM transactions, kept by whoever commits in order.
#[derive(Debug, Default)]
pub(crate) struct GasLedger {
    pub(crate) gas_used: u64,
    pub(crate) fees: Amount,
}

/// Everything that commits a block's transactions in order: the EVM over the block's
/// overlay, the native effects and the gas ledger. The sequential executor runs every
/// transaction through it; the optimistic engine gives it speculative runs to validate.
pub(crate) struct InOrder<'a> {
    pub(crate) evm: Evm<BlockDb<'a>>,
    /// Where the optimistic engine's workers read committed writes (`None` when running
    /// alone).
    pub(crate) published: Option<&'a Published>,
    pub(crate) natives: NativeEffects,
    pub(crate) ledger: GasLedger,
    pub(crate) receipts: Vec<Receipt>,
    pub(crate) env: &'a BlockEnv,
    pub(crate) facts: BlockFacts,
}

impl<'a> InOrder<'a> {
    pub(crate) fn new(
        state: &'a State,
        env: &'a BlockEnv,
        facts: BlockFacts,
        prepared: &Prepared,
    ) -> Self {
        Self {
            evm: exec::new_evm(BlockDb::for_block(state, prepared.ops.len()), env),
            published: None,
            natives: NativeEffects::new(prepared.new_channels),
            ledger: GasLedger::default(),
            receipts: Vec::with_capacity(prepared.ops.len()),
            env,
            facts,
        }
    }

    fn db(&mut self) -> &mut BlockDb<'a> {
        &mut self.evm.ctx.journaled_state.database
    }

    /// The state under the block's writes so far.
    pub(crate) fn view(&self) -> View<'_> {
        self.evm.ctx.journaled_state.database.view()
    }

    /// Runs a native kind.
    pub(crate) fn native(&mut self, op: &Op, i: u32) {
        let facts = self.facts;
        let natives = &mut self.natives;
        let db = &mut self.evm.ctx.journaled_state.database;
        let mut ctx = OverlayCtx {
            state: db.state,
            overlay: &mut db.overlay,
            natives,
            block: facts.number,
        };
        let receipt = apply(op, i, &facts, &mut ctx);
        self.receipts.push(receipt);
        if let Some(published) = self.published {
            // What a native kind wrote, as the EVM sees it.
            let view = self.view();
            for_each_access(op, facts.fee_recipient, |key, _| {
                if let Key::Account(idx) = key
                    && let Some(account) = view.account(idx)
                {
                    published.account(account.address, view.seen_at(idx), i);
                }
            });
        }
    }

    /// Whether the block has gas left for `tx`; if not, records its failed receipt.
    pub(crate) fn admit(&mut self, tx: &crate::evm::EvmTransaction) -> bool {
        let left = self.env.gas_limit - self.ledger.gas_used;
        if tx.gas_limit() <= left {
            return true;
        }
        self.refused(FailureReason::BlockGasExceeded);
        false
    }

    /// Runs an EVM transaction against the block's writes so far.
    pub(crate) fn run(&mut self, tx: &crate::evm::EvmTransaction) -> Run {
        exec::run(&mut self.evm, tx)
    }

    /// Applies a run (speculative and validated, or just run) and records its receipt.
    pub(crate) fn commit(&mut self, tx: &crate::evm::EvmTransaction, run: Run) {
        let executed = match run {
            Ok(executed) => executed,
            Err(reason) => return self.refused(reason),
        };
        let price = tx.effective_gas_price(self.env.base_fee);
        let fee = u128::from(executed.gas_used) * price;
        let published = self.published;
        // Receipts are pushed in block order: this transaction's position.
        let position = self.receipts.len() as u32;
        let db = self.db();
        exec::apply(
            &mut db.overlay,
            db.state,
            &executed.writes,
            published,
            position,
        );
        let status = executed.failure.map_or(Status::Success, Status::Failed);
        let receipt = executed.into_receipt(self.ledger.gas_used, price);
        self.ledger.gas_used += receipt.gas_used;
        self.ledger.fees += fee;
        self.receipts.push(Receipt {
            status,
            fee_paid: fee,
            withdrawal: None,
            evm: Some(Box::new(receipt)),
        });
    }

    fn refused(&mut self, reason: FailureReason) {
        let mut receipt = Receipt::failed(reason, 0);
        receipt.evm = Some(Box::new(crate::evm::EvmReceipt {
            gas_used: 0,
            cumulative_gas_used: self.ledger.gas_used,
            effective_gas_price: 0,
            logs: Vec::new(),
            contract_address: None,
            revert_data: Default::default(),
        }));
        self.receipts.push(receipt);
    }

    /// Credits the block's EVM fees to the fee recipient and hands over what the block
    /// produced.
    pub(crate) fn finish(mut self) -> (Overlay, Effects, u64) {
        let fees = self.ledger.fees;
        let fee_recipient = self.facts.fee_recipient;
        let natives = &mut self.natives;
        let db = &mut self.evm.ctx.journaled_state.database;
        if fees != 0 {
            OverlayCtx {
                state: db.state,
                overlay: &mut db.overlay,
                natives,
                block: 0,
            }
            .credit(fee_recipient, ETH, fees);
        }
        let overlay = std::mem::take(&mut db.overlay);
        let effects = Effects {
            receipts: self.receipts,
            deltas: Vec::new(),
            reveals: std::mem::take(&mut self.natives.reveals),
            opened: std::mem::take(&mut self.natives.opened),
        };
        (overlay, effects, self.ledger.gas_used)
    }
}

/// Runs a block with EVM transactions in order: the specification.
pub(crate) fn run_in_order<'a>(
    state: &'a State,
    env: &'a BlockEnv,
    prepared: &Prepared,
    facts: BlockFacts,
    txs: &[VerifiedTransaction],
) -> (Overlay, Effects, u64) {
    let mut in_order = InOrder::new(state, env, facts, prepared);
    for (i, (op, tx)) in prepared.ops.iter().zip(txs).enumerate() {
        match op {
            Op::Evm { .. } => {
                let tx = evm_tx(tx);
                if in_order.admit(tx) {
                    let run = in_order.run(tx);
                    in_order.commit(tx, run);
                }
            }
            native => in_order.native(native, i as u32),
        }
    }
    in_order.finish()
}

/// Writes the block's overlay into the state: fresh accounts appended in order, accounts,
/// code and channel records replaced, supplies set, storage committed. Adds every written
/// account's position to `touched`.
pub(crate) fn merge(
    state: &mut State,
    overlay: Overlay,
    touched: &mut [Vec<usize>],
    pool: Option<&rayon::ThreadPool>,
) {
    debug_assert_eq!(touched.len(), PARTITIONS);
    for address in &overlay.fresh_order {
        let idx = state.push_account(*address);
        debug_assert_eq!(Some(&idx), overlay.fresh.get(address));
    }
    for (idx, account) in overlay.accounts {
        *state.account_mut(idx) = account;
        touched[partition_of(idx)].push(position_of(idx));
    }
    let mut contracts: Vec<(AccountIndex, B256)> = Vec::new();
    for (idx, code_hash) in overlay.code_hashes {
        let part = &mut state.partitions[partition_of(idx)];
        let pos = position_of(idx) as u32;
        // Code is set once, by the creation; a contract that self-destructs does so in
        // the transaction that created it, so code never leaves a committed account.
        match code_hash {
            Some(hash) => {
                part.contracts.insert(pos, hash);
                contracts.push((idx, hash));
            }
            None => debug_assert!(!part.contracts.contains_key(&pos), "code is never removed"),
        }
        touched[partition_of(idx)].push(position_of(idx));
    }
    let mut new_code: Vec<B256> = overlay
        .code
        .keys()
        .filter(|h| !state.code.contains_key(*h))
        .copied()
        .collect();
    state.code.extend(overlay.code);
    if let Some((journal_contracts, journal_code)) = &mut state.evm_journal {
        contracts.sort_unstable_by_key(|&(i, _)| i);
        journal_contracts.extend(contracts);
        new_code.sort_unstable();
        journal_code.extend(new_code);
    }
    if let Some(supply) = overlay.supply {
        state.supply = supply;
    }
    for (pos, record) in overlay.channels {
        state.channels.records[pos as usize] = record;
    }
    let hash = |((address, slot), value): (SlotRef, U256)| (slot_key(&address, &slot), value);
    let writes: Vec<(SlotRef, U256)> = overlay.storage.into_iter().collect();
    let writes = match pool {
        Some(pool) if writes.len() >= 1024 => {
            use rayon::prelude::*;
            pool.install(|| writes.into_par_iter().map(hash).collect())
        }
        _ => writes.into_iter().map(hash).collect(),
    };
    state.storage.commit(writes, pool);
}
