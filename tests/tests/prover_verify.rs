//! The prover's check against batches built by the real sequencer (its binary; the
//! batches and witnesses come from its API): honest batches pass; a wrong state root, a
//! tampered payload, a forged signature and a witness of another batch are each refused
//! with their own code, for native and for EVM traffic (a changed storage write, a dropped
//! withdrawal event, a swapped transaction, a forged EVM signature); and the sequencer's
//! published chain parameters are compared with the prover's.
//!
//! Moved from `prover-stub/tests/verify.rs`, so the prover crate does not depend on the
//! sequencer's.

use std::time::Duration;

use sqlx::{Connection, SqliteConnection};
use weft_api::BatchView;
use weft_l1::CommitData;
use weft_protocol::{
    batch::{BatchCommitment, Carrier},
    da::{DaBlock, decode_batch, encode_batch},
    execution::{ChainParams, SequentialExecutor},
    genesis::{dev_allocations, dev_key},
    primitives::{B256, keccak256},
    signature::Signature,
    state::State,
    transaction::{Transaction, Transfer},
};
use weft_prover_stub::verify::{PublishedChain, Refusal, Witness, check_batch, check_chain};
use weft_tests::{SequencerOptions, Stack, send_l2};

/// The sequencer's default genesis: 10 dev accounts with the default balance.
const DEV_ACCOUNTS: u32 = 10;
const DEV_BALANCE: u128 = 1_000_000_000_000_000_000_000_000;

/// What the prover checks against, from the sequencer's API.
struct Config {
    domain: weft_protocol::eip712::Domain,
    dispute_window: u64,
}

/// A sequencer that has sealed at least two batches of signed transfers.
async fn batches() -> (Stack, Config) {
    let stack = Stack::builder()
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            batch_max_blocks: Some(2),
            batch_max_age: Duration::ZERO,
            dev_accounts: DEV_ACCOUNTS,
            ..SequencerOptions::default()
        })
        .start()
        .await;
    let chain = stack.api().chain().await.unwrap();
    let d = chain.domain;
    for nonce in 0..6u64 {
        for s in 0..5u32 {
            let key = dev_key(s);
            let tx = Transaction::Transfer(Transfer {
                from: key.address(),
                to: dev_key(s + 5).address(),
                token: 0,
                amount: 10,
                fee: 1,
                nonce,
            })
            .sign(&key, &d);
            stack.api().submit(&tx).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    stack
        .wait("two batches", Duration::from_secs(20), || async {
            stack.api().batch(2).await.unwrap().map(|_| ())
        })
        .await;
    let c = Config {
        domain: chain.domain,
        dispute_window: chain.dispute_window,
    };
    (stack, c)
}

/// Batch `index`: its view, stored DA payload (the API serves its size) and witness.
async fn batch(stack: &Stack, index: u64) -> (BatchView, Vec<u8>, Witness) {
    let view = stack.api().batch(index).await.unwrap().unwrap();
    let mut db = SqliteConnection::connect(&stack.sequencer_db_url())
        .await
        .unwrap();
    let payload: Vec<u8> =
        sqlx::query_scalar("SELECT da_payload FROM batches WHERE batch_index = ?")
            .bind(index as i64)
            .fetch_one(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    let witness = stack.api().witness(index).await.unwrap().unwrap();
    (view, payload, witness)
}

fn genesis_state() -> State {
    State::genesis(&dev_allocations(DEV_ACCOUNTS, DEV_BALANCE), 1).unwrap()
}

fn check(
    state: &mut State,
    c: &Config,
    commitment: &BatchCommitment,
    payload: &[u8],
    w: &Witness,
) -> Result<(), Refusal> {
    check_batch(
        state,
        &ChainParams {
            domain: c.domain,
            dispute_window: c.dispute_window,
        },
        &CommitData {
            commitment: *commitment,
            payload: payload.to_vec().into(),
            // The stack's poster chose the carrier; the commitment's DA hash says which.
            carrier: if keccak256(payload) == commitment.da_hash {
                Carrier::Calldata
            } else {
                Carrier::Blobs
            },
        },
        w,
        &[],
        &mut SequentialExecutor,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_pass_and_every_kind_of_lie_is_refused() {
    let (stack, c) = batches().await;
    let (b1, b1_payload, w1) = batch(&stack, 1).await;
    let (b2, b2_payload, w2) = batch(&stack, 2).await;

    let mut state = genesis_state();
    check(&mut state, &c, &b1.commitment, &b1_payload, &w1).unwrap();
    assert_eq!(state.state_root(), b1.commitment.new_state_root);
    let after_b1 = state.clone();

    // A wrong new state root.
    let mut lie = b2.commitment;
    lie.new_state_root = B256::repeat_byte(7);
    let err = check(&mut state, &c, &lie, &b2_payload, &w2).unwrap_err();
    assert_eq!(err.code(), "state_mismatch", "{err}");
    assert_eq!(
        state.state_root(),
        after_b1.state_root(),
        "a refused batch leaves the state alone"
    );

    // A payload that carries a different transaction (re-encoded, so it decodes fine).
    let decoded = decode_batch(&b2_payload, |i| after_b1.account(i).map(|a| a.address)).unwrap();
    let mut blocks: Vec<DaBlock> = decoded.blocks.clone();
    if let Transaction::Transfer(t) = &mut blocks[0].transactions[0] {
        t.amount += 1;
    }
    let (tampered, _) = encode_batch(
        &blocks,
        decoded.accounts_before,
        decoded.queue_before,
        |a| after_b1.index_of(a),
    );
    let mut tampered_commitment = b2.commitment;
    tampered_commitment.da_hash = weft_protocol::da::da_hash(&tampered);
    let err = check(&mut state, &c, &tampered_commitment, &tampered, &w2).unwrap_err();
    assert!(
        matches!(err.code(), "payload_mismatch" | "state_mismatch"),
        "{err}"
    );

    // A forged signature in the witness.
    let mut forged = w2.clone();
    forged.blocks[0].transactions[0].signature = Some(Signature {
        r: B256::repeat_byte(1),
        s: B256::repeat_byte(1),
        y_parity: false,
    });
    let err = check(&mut state, &c, &b2.commitment, &b2_payload, &forged).unwrap_err();
    assert_eq!(err.code(), "bad_signature", "{err}");

    // A witness for another batch.
    let err = check(&mut state, &c, &b2.commitment, &b2_payload, &w1).unwrap_err();
    assert_eq!(err.code(), "witness_range", "{err}");

    // And the honest second batch still passes from the same state.
    check(&mut state, &c, &b2.commitment, &b2_payload, &w2).unwrap();
    assert_eq!(state.state_root(), b2.commitment.new_state_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencers_published_chain_parameters_are_compared_with_the_provers() {
    let stack = Stack::builder()
        .sequencer(SequencerOptions {
            dispute_window: Some(21),
            ..SequencerOptions::default()
        })
        .start()
        .await;
    let domain = stack.domain().await;
    let published: PublishedChain = reqwest::get(format!("{}/v1/chain", stack.sequencer_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = ChainParams {
        domain,
        dispute_window: 21,
    };
    assert_eq!(check_chain(&ours, &published), Ok(()));
    let other_window = ChainParams {
        dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
        ..ours
    };
    assert!(
        check_chain(&other_window, &published)
            .unwrap_err()
            .contains("dispute window is 21 blocks")
    );
    let other_chain = ChainParams {
        domain: weft_protocol::eip712::Domain::new(
            domain.chain_id() + 1,
            domain.verifying_contract(),
        ),
        ..ours
    };
    assert!(check_chain(&other_chain, &published).is_err());
}

/// EVM traffic from a real client (alloy's provider over the sequencer's JSON-RPC): an
/// ERC-20 deployed, minted and transferred in two transactions of one sender, and 1 ETH
/// withdrawn through the predeploy, sealed into batches. The honest batches pass; a changed
/// storage write (the commitment's root), a dropped withdrawal event (its leaf missing from
/// the withdrawals root), two transactions swapped in the payload and a forged EVM signature
/// are each refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_batches_pass_and_their_tampered_copies_are_refused() {
    use alloy::{
        network::TransactionBuilder,
        primitives::{Address, U256},
        providers::Provider,
        rpc::types::TransactionRequest,
    };
    use weft_protocol::{
        evm::predeploy::{WITHDRAWALS, withdraw_selector},
        testkit::evm::{Arg, calldata, token_init_code},
    };

    let stack = Stack::builder()
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            // The EVM transactions below share a batch or two.
            batch_max_age: Duration::from_secs(3),
            dev_accounts: DEV_ACCOUNTS,
            ..SequencerOptions::default()
        })
        .start()
        .await;
    let chain = stack.api().chain().await.unwrap();
    let c = Config {
        domain: chain.domain,
        dispute_window: chain.dispute_window,
    };
    let l2 = stack.l2_wallet(&dev_key(3));
    let send = |tx: TransactionRequest| {
        let l2 = &l2;
        async move { send_l2(l2, tx).await }
    };
    let deployed =
        send(TransactionRequest::default().with_deploy_code(token_init_code("Tamper", "TMP")))
            .await;
    let token = deployed.contract_address.unwrap();
    let holder = dev_key(3).address();
    send(
        TransactionRequest::default()
            .with_to(token)
            .with_input(calldata(
                "mint(address,uint256)",
                &[Arg::A(holder), Arg::U(U256::from(1_000))],
            )),
    )
    .await;
    // Two transactions of one sender in one block (nonce order matters), then a withdrawal.
    let nonce = l2.get_transaction_count(holder).await.unwrap();
    let transfer = |to: u8, nonce: u64| {
        TransactionRequest::default()
            .with_to(token)
            .with_nonce(nonce)
            .with_input(calldata(
                "transfer(address,uint256)",
                &[Arg::A(Address::repeat_byte(to)), Arg::U(U256::from(10))],
            ))
    };
    let (a, b) = tokio::join!(
        l2.send_transaction(transfer(0x71, nonce)),
        l2.send_transaction(transfer(0x72, nonce + 1))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    a.get_receipt().await.unwrap();
    b.get_receipt().await.unwrap();
    let mut input = withdraw_selector().to_vec();
    input.extend_from_slice(&Address::repeat_byte(0x7b).into_word().0);
    let withdrawal = send(
        TransactionRequest::default()
            .with_to(WITHDRAWALS)
            // The provider's nonce cache did not see the two transfers' nonces.
            .with_nonce(nonce + 2)
            .with_value(U256::from(1_000_000_000_000_000_000u128))
            .with_input(input),
    )
    .await;
    let last = stack
        .wait(
            "the withdrawal batched",
            Duration::from_secs(20),
            || async {
                let v = stack
                    .api()
                    .transaction(&withdrawal.transaction_hash)
                    .await
                    .ok()?;
                v?.batch.map(|b| b.index)
            },
        )
        .await;

    // Every batch up to the withdrawal's passes, each from the state after the one before.
    let mut state = genesis_state();
    let mut evm_batches = Vec::new();
    for index in 1..=last {
        let (view, payload, witness) = batch(&stack, index).await;
        let before = state.clone();
        check(&mut state, &c, &view.commitment, &payload, &witness).unwrap();
        let evm = witness
            .blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .filter(|t| matches!(t.transaction, Transaction::Evm(_)))
            .count();
        if evm > 0 {
            evm_batches.push((before, view, payload, witness));
        }
    }
    assert!(!evm_batches.is_empty());

    let (mut swaps, mut withdrawals) = (0, 0);
    for (before, view, payload, witness) in &evm_batches {
        let refused = |commitment: &BatchCommitment, payload: &[u8], w: &Witness| {
            let mut s = before.clone();
            let err = check(&mut s, &c, commitment, payload, w).unwrap_err();
            assert_eq!(
                s.state_root(),
                before.state_root(),
                "a refused batch changes nothing"
            );
            err
        };
        // A changed storage write: the commitment claims another post-state.
        let mut lie = view.commitment;
        lie.new_state_root = B256::repeat_byte(0x5a);
        assert_eq!(refused(&lie, payload, witness).code(), "state_mismatch");

        // A dropped withdrawal event: the root of the batch's leaves but the predeploy's.
        let has_withdrawal = witness
            .blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .any(|t| t.hash == withdrawal.transaction_hash);
        if has_withdrawal {
            let mut lie = view.commitment;
            lie.withdrawals_root = weft_protocol::merkle::root_of(&[]);
            let err = refused(&lie, payload, witness);
            assert_eq!(err.code(), "state_mismatch", "{err}");
            assert!(err.to_string().contains("withdrawals root"), "{err}");
            withdrawals += 1;
        }

        // An EVM transaction swapped with the next transaction of the batch (re-encoded, so
        // it decodes).
        let decoded = decode_batch(payload, |i| before.account(i).map(|a| a.address)).unwrap();
        let mut blocks: Vec<DaBlock> = decoded.blocks.clone();
        let positions: Vec<(usize, usize)> = blocks
            .iter()
            .enumerate()
            .flat_map(|(b, block)| (0..block.transactions.len()).map(move |i| (b, i)))
            .collect();
        let first_evm = positions
            .iter()
            .position(|&(b, i)| matches!(blocks[b].transactions[i], Transaction::Evm(_)))
            .unwrap();
        if let Some(&(qb, qi)) = positions.get(first_evm + 1) {
            let (pb, pi) = positions[first_evm];
            let next = blocks[qb].transactions[qi].clone();
            let moved = std::mem::replace(&mut blocks[pb].transactions[pi], next);
            blocks[qb].transactions[qi] = moved;
            let (swapped, _) = encode_batch(
                &blocks,
                decoded.accounts_before,
                decoded.queue_before,
                |a| before.index_of(a),
            );
            let mut commitment = view.commitment;
            commitment.da_hash = weft_protocol::da::da_hash(&swapped);
            let err = refused(&commitment, &swapped, witness);
            assert!(
                matches!(err.code(), "payload_mismatch" | "state_mismatch"),
                "{err}"
            );
            swaps += 1;
        }

        // A forged EVM signature in the witness: one byte of the envelope's `s` changed.
        let mut forged = witness.clone();
        let t = forged
            .blocks
            .iter_mut()
            .flat_map(|b| &mut b.transactions)
            .find(|t| matches!(t.transaction, Transaction::Evm(_)))
            .unwrap();
        if let Transaction::Evm(evm) = &mut t.transaction {
            let mut raw = evm.encoded().to_vec();
            let last = raw.len() - 1;
            raw[last] ^= 1;
            let other = weft_protocol::evm::EvmTransaction::decode(&raw)
                .expect("still a valid signature, of another sender");
            assert_ne!(other.sender(), evm.sender());
            **evm = other;
        }
        let err = refused(&view.commitment, payload, &forged);
        assert_eq!(err.code(), "bad_signature", "{err}");

        // An EVM transaction in the witness without its signature, as the payload has it.
        let mut unsigned = witness.clone();
        let t = unsigned
            .blocks
            .iter_mut()
            .flat_map(|b| &mut b.transactions)
            .find(|t| matches!(t.transaction, Transaction::Evm(_)))
            .unwrap();
        t.transaction = t.transaction.without_signature();
        let err = refused(&view.commitment, payload, &unsigned);
        assert_eq!(err.code(), "bad_signature", "{err}");
    }
    assert!(swaps > 0, "no EVM batch held two transactions");
    assert_eq!(withdrawals, 1, "the withdrawal's batch was checked");
}
