//! Plain revm over its in-memory database, mainnet rules: the reference of the
//! differential test and the floor of the benchmark.

use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{BlockEnv as RevmBlockEnv, CfgEnv, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
};

use super::{CHAIN_ID, EvmWorld, FUNDING, Setup};
use crate::{
    evm::{SPEC, prevrandao},
    execution::BlockEnv,
    primitives::U256,
    transaction::{Transaction, VerifiedTransaction},
};

/// revm's in-memory database.
pub type Db = CacheDB<EmptyDB>;

/// revm's transaction environment for an EVM transaction (Weft's own conversion).
pub fn tx_env(tx: &VerifiedTransaction) -> TxEnv {
    let Transaction::Evm(t) = &tx.transaction else {
        panic!("EVM transactions only")
    };
    crate::evm::exec::tx_env(t)
}

/// revm for the block `env` over `db` (mainnet handler: the tip to the beneficiary,
/// the base fee burnt).
pub fn evm(db: Db, env: &BlockEnv) -> revm::MainnetEvm<revm::handler::MainnetContext<Db>> {
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = CHAIN_ID;
    let block = RevmBlockEnv {
        number: U256::from(env.number),
        beneficiary: env.fee_recipient,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        prevrandao: Some(prevrandao(env.number)),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SPEC)),
        ..Default::default()
    };
    Context::mainnet()
        .with_db(db)
        .with_cfg(cfg)
        .with_block(block)
        .build_mainnet()
}

/// Runs a block on `db`; each transaction's result (`None`: refused).
pub fn run_block(
    db: &mut Db,
    env: &BlockEnv,
    txs: &[VerifiedTransaction],
) -> Vec<Option<ExecutionResult>> {
    let mut evm = evm(std::mem::take(db), env);
    let results = txs
        .iter()
        .map(|tx| evm.transact_commit(tx_env(tx)).ok())
        .collect();
    *db = std::mem::take(&mut evm.ctx.journaled_state.database);
    results
}

/// The world's state in revm's database: genesis, then its history replayed.
pub fn world_db(world: &EvmWorld) -> Db {
    let mut db = Db::default();
    for key in &world.keys {
        db.insert_account_info(
            key.address(),
            AccountInfo {
                balance: U256::from(FUNDING),
                ..Default::default()
            },
        );
    }
    for step in &world.history {
        match step {
            Setup::Block(number, txs) => {
                run_block(&mut db, &EvmWorld::env(*number), txs);
            }
            Setup::Storage(writes) => {
                for (address, slot, value) in writes {
                    db.insert_account_storage(*address, *slot, *value)
                        .expect("an in-memory database");
                }
            }
        }
    }
    db
}
