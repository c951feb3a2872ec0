//! Exodus of channel funds: while frozen, a channel the last finalized state holds is
//! settled on L1 with the co-signed states made for L2 (register, refute, conclude), each
//! lock paid by a secret revealed on L2 in time or on L1 while frozen, and a channel nobody
//! registers refunds each side what it put in.
//!
//! The finalized state is real: deposits, channel opens, a hub deposit, registrations and
//! a reveal executed on L2 by the protocol's sequential executor; batch 1 commits it.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use weft_l1::{
    QueueChain, Rollup,
    Rollup::RollupErrors as E,
    exodus::{
        channel_state, exodus_channel_register_call, exodus_channel_start_call,
        exodus_prove_secret_call, exodus_roots_call,
    },
    testkit::{Devnet, DevnetConfig, mined, next_batch},
};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, Lock, LockDirection, channel_id},
    eip712::{Domain, Eip712},
    execution::{BlockEnv, BlockExecutor, SequentialExecutor},
    signature::SigningKey,
    state::State,
    transaction::{
        ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, RevealSecret, Transaction,
        VerifiedTransaction,
    },
};

use crate::common::{payload, reverts};

const ETHER: u128 = 1_000_000_000_000_000_000;
const DEADLINE: u64 = 3_600;

/// Signs `state` with `key` for the L2 domain (what a wallet or the hub hands over).
fn co_sign(key: &SigningKey, state: &ChannelState, domain: &Domain) -> Bytes {
    Bytes::copy_from_slice(&key.sign_digest(&state.signing_hash(domain)).to_bytes())
}

fn state(id: B256, version: u64, wallet: u128, hub: u128, locks: Vec<Lock>) -> ChannelState {
    ChannelState {
        channel_id: id,
        version,
        balance_wallet: wallet,
        balance_hub: hub,
        locks,
        is_final: false,
    }
}

fn lock(amount: u128, secret: &[u8], expiry: u64, direction: LockDirection) -> Lock {
    Lock {
        amount,
        hashlock: keccak256(keccak256(secret)),
        expiry,
        direction,
    }
}

/// The secret whose hashlock [`lock`] builds from `secret`.
fn preimage(secret: &[u8]) -> B256 {
    keccak256(secret)
}

fn env(number: u64, dispute_window: u64, domain: Domain) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: number,
        fee_recipient: Address::repeat_byte(0xfe),
        domain,
        dispute_window,
        gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
    }
}

struct Party {
    key: SigningKey,
    nonce: u64,
}

impl Party {
    fn new(seed: &[u8]) -> Self {
        Self {
            key: SigningKey::from_seed(seed),
            nonce: 0,
        }
    }

    fn address(&self) -> Address {
        self.key.address()
    }

    fn sign(&mut self, tx: Transaction, domain: &Domain) -> VerifiedTransaction {
        self.nonce += 1;
        tx.sign(&self.key, domain).verify(domain).unwrap()
    }

    /// A settlement sent by this party, co-signed by `wallet` and `hub`.
    fn settle(
        &self,
        state: &ChannelState,
        wallet: &SigningKey,
        hub: &SigningKey,
        d: &Domain,
    ) -> ChannelSettle {
        ChannelSettle {
            from: self.address(),
            state: state.clone(),
            wallet_signature: co_sign(wallet, state, d),
            hub_signature: co_sign(hub, state, d),
            fee: 0,
            nonce: self.nonce,
        }
    }
}

#[tokio::test]
async fn frozen_channels_settle_on_l1_with_their_co_signed_states() {
    let dev = Devnet::start(DevnetConfig {
        forced_withdrawal_deadline: DEADLINE,
        ..Default::default()
    })
    .await;
    let d = dev.domain();
    let rollup = &dev.rollup;
    let (depositor, relayer) = (dev.accounts[1], dev.accounts[5]);
    // L2 keys with fresh L1 addresses: exits pay there, so balances are exact.
    let mut alice = Party::new(b"exit-alice");
    let mut carol = Party::new(b"exit-carol");
    let mut dave = Party::new(b"exit-dave");
    let mut erin = Party::new(b"exit-erin");
    let mut hub = Party::new(b"exit-hub");

    // L1 queue: 10 ETH to each wallet, 20 to the hub, then a forced withdrawal.
    let funded = [
        (alice.address(), 10 * ETHER),
        (carol.address(), 10 * ETHER),
        (dave.address(), 10 * ETHER),
        (erin.address(), 10 * ETHER),
        (hub.address(), 20 * ETHER),
    ];
    let mut chain = QueueChain::new();
    let mut deposits = Vec::new();
    for (i, (to, amount)) in funded.iter().enumerate() {
        mined(
            rollup
                .depositETH(*to)
                .value(U256::from(*amount))
                .from(depositor),
        )
        .await;
        let tx = Transaction::Deposit(Deposit {
            queue_index: i as u64,
            to: *to,
            token: 0,
            amount: *amount,
        });
        chain.push(&tx, &d);
        deposits.push(tx.assume_verified(&d));
    }
    mined(rollup.forceWithdraw(0).from(depositor)).await;

    // Block 1 (dispute window 36,000 blocks):
    // - A: alice opens with 4 ETH, the hub adds 3 (co-signed v1: 4 / 3); stays Open.
    // - C: carol opens with 5 ETH and registers v2 (3 / 1, lock of 1 to the hub, revealed
    //   on L2 in this block); Disputed, its L2 deadline far ahead.
    // - D: dave opens with 2 ETH; Open, nobody registers it on L1.
    let id_a = channel_id(&alice.address(), &hub.address(), 0);
    let id_c = channel_id(&carol.address(), &hub.address(), 0);
    let id_d = channel_id(&dave.address(), &hub.address(), 0);
    let id_e = channel_id(&erin.address(), &hub.address(), 0);
    let open = |p: &Party, amount: u128| {
        Transaction::ChannelOpen(ChannelOpen {
            from: p.address(),
            hub: hub.address(),
            token: 0,
            amount,
            fee: 0,
            nonce: 0,
        })
    };
    let a1 = state(id_a, 1, 4 * ETHER, 3 * ETHER, vec![]);
    let c2 = state(
        id_c,
        2,
        3 * ETHER,
        ETHER,
        vec![lock(ETHER, b"c", 1_000, LockDirection::WalletToHub)],
    );
    let mut block1 = deposits;
    for (p, amount) in [
        (&mut alice, 4),
        (&mut carol, 5),
        (&mut dave, 2),
        (&mut erin, 2),
    ] {
        let tx = open(p, amount * ETHER);
        block1.push(p.sign(tx, &d));
    }
    let hub_deposit = Transaction::ChannelDeposit(ChannelDeposit {
        from: hub.address(),
        channel_id: id_a,
        amount: 3 * ETHER,
        state: a1.clone(),
        wallet_signature: co_sign(&alice.key, &a1, &d),
        hub_signature: co_sign(&hub.key, &a1, &d),
        fee: 0,
        nonce: hub.nonce,
    });
    block1.push(hub.sign(hub_deposit, &d));
    let register_c = Transaction::ChannelRegister(carol.settle(&c2, &carol.key, &hub.key, &d));
    block1.push(carol.sign(register_c, &d));
    let reveal = Transaction::RevealSecret(RevealSecret {
        from: hub.address(),
        secret: preimage(b"c"),
        fee: 0,
        nonce: hub.nonce,
    });
    block1.push(hub.sign(reveal, &d));

    // Block 2 (dispute window 0): E: erin registers v1 (1 / 1); its L2 dispute ends in this
    // very block, so when the chain stops after it, v1 is final.
    let e1 = state(id_e, 1, ETHER, ETHER, vec![]);
    let register_e = Transaction::ChannelRegister(erin.settle(&e1, &erin.key, &hub.key, &d));
    let block2 = vec![erin.sign(register_e, &d)];

    let mut l2 = State::new();
    let mut last = None;
    for (number, window, txs) in [(1, 36_000, &block1), (2, 0, &block2)] {
        let out = SequentialExecutor
            .execute_block(&mut l2, &env(number, window, d), txs)
            .unwrap();
        assert!(
            out.receipts.iter().all(|r| r.is_success()),
            "{:?}",
            out.receipts
        );
        last = Some(out);
    }
    let out = last.unwrap();
    assert!(matches!(
        l2.channel(&id_c).unwrap().status,
        ChannelStatus::Disputed { .. }
    ));
    assert!(matches!(
        l2.channel(&id_e).unwrap().status,
        ChannelStatus::Disputed { deadline: 2, .. }
    ));

    // Batch 1 commits blocks 1–2; proven and finalized at once. The forced withdrawal
    // (queue entry 5) is never served: exodus.
    let da = payload(100, 3);
    let c1 = next_batch(
        &dev.genesis_batch(),
        2,
        out.state_root,
        out.withdrawals_root,
        (5, chain.hash_at(5).unwrap()),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    let proof = |p: &Party| {
        l2.account_proof(l2.index_of(&p.address()).unwrap())
            .unwrap()
    };
    let roots = exodus_roots_call(&proof(&alice));
    assert_eq!(
        reverts(rollup.call_builder(&roots)).await,
        E::NotFrozen(Rollup::NotFrozen {})
    );
    dev.increase_time(DEADLINE + 1).await;
    mined(rollup.activateExodus(5).from(relayer)).await;

    // Nothing is proven against roots nobody proved, nor with roots of another state.
    let start_a = exodus_channel_start_call(
        &l2.channel_proof(&id_a).unwrap(),
        &proof(&alice),
        &proof(&hub),
    );
    assert_eq!(
        reverts(rollup.call_builder(&start_a)).await,
        E::RootsNotProven(Rollup::RootsNotProven {})
    );
    let mut wrong = roots.clone();
    wrong.roots.queuePosition += 1;
    assert_eq!(
        reverts(rollup.call_builder(&wrong)).await,
        E::InvalidProof(Rollup::InvalidProof {})
    );
    mined(rollup.call_builder(&roots).from(relayer)).await;

    // A (Open): the record must come with its participants' own accounts.
    let mut swapped = start_a.clone();
    swapped.wallet = weft_l1::exodus::account_witness(&proof(&carol));
    assert_eq!(
        reverts(rollup.call_builder(&swapped)).await,
        E::InvalidProof(Rollup::InvalidProof {})
    );
    let mut inflated = start_a.clone();
    inflated.record.walletSide += 1;
    assert_eq!(
        reverts(rollup.call_builder(&inflated)).await,
        E::InvalidProof(Rollup::InvalidProof {})
    );
    let receipt = mined(rollup.call_builder(&start_a).from(relayer)).await;
    let started = receipt
        .decoded_log::<Rollup::ChannelExitStarted>()
        .unwrap()
        .data;
    assert_eq!(
        (started.channelId, started.wallet, started.hub),
        (id_a, alice.address(), hub.address())
    );
    assert_eq!(
        reverts(rollup.call_builder(&start_a)).await,
        E::ChannelExitExists(Rollup::ChannelExitExists { channelId: id_a })
    );

    // A: v1 registers; v1 again is stale; v3 (2 / 4 and a lock of 1 from alice to the hub,
    // not expired when the chain stopped) needs both signatures and refutes v1; the hub
    // reveals its secret on L1.
    let register = |s: &ChannelState, w: &SigningKey, h: &SigningKey| {
        exodus_channel_register_call(s, co_sign(w, s, &d), co_sign(h, s, &d))
    };
    mined(rollup.call_builder(&register(&a1, &alice.key, &hub.key))).await;
    assert_eq!(
        reverts(rollup.call_builder(&register(&a1, &alice.key, &hub.key))).await,
        E::StaleVersion(Rollup::StaleVersion {
            registered: 1,
            got: 1
        })
    );
    let a3 = state(
        id_a,
        3,
        2 * ETHER,
        4 * ETHER,
        vec![lock(ETHER, b"a", 100, LockDirection::WalletToHub)],
    );
    assert_eq!(
        reverts(rollup.call_builder(&register(&a3, &alice.key, &alice.key))).await,
        E::InvalidCoSignature(Rollup::InvalidCoSignature {})
    );
    let mut overdrawn = a3.clone();
    overdrawn.balance_hub += 1;
    assert_eq!(
        reverts(rollup.call_builder(&register(&overdrawn, &alice.key, &hub.key))).await,
        E::TotalMismatch(Rollup::TotalMismatch {
            expected: U256::from(7 * ETHER),
            got: U256::from(7 * ETHER + 1)
        })
    );
    mined(rollup.call_builder(&register(&a3, &alice.key, &hub.key))).await;
    mined(rollup.exodusRevealSecret(preimage(b"a"))).await;
    assert_eq!(
        reverts(rollup.exodusChannelConclude(id_a, channel_state(&a3))).await,
        E::ExitDisputePending(Rollup::ExitDisputePending {
            deadline: started.deadline
        })
    );

    // C (Disputed on L2): carried over with its registered state, which must match the leaf;
    // its lock's secret is proven revealed on L2 in block 1 (before its expiry).
    let mut start_c = exodus_channel_start_call(
        &l2.channel_proof(&id_c).unwrap(),
        &proof(&carol),
        &proof(&hub),
    );
    let genuine = start_c.registered.clone();
    start_c.registered.balanceWallet += 1;
    assert_eq!(
        reverts(rollup.call_builder(&start_c)).await,
        E::StateMismatch(Rollup::StateMismatch {})
    );
    start_c.registered = genuine;
    mined(rollup.call_builder(&start_c)).await;
    let secret = l2.secret_proof(&c2.locks[0].hashlock).unwrap();
    assert_eq!(secret.block, 1);
    let mut forged = exodus_prove_secret_call(&secret);
    forged.revealBlock = 0;
    assert_eq!(
        reverts(rollup.call_builder(&forged)).await,
        E::InvalidProof(Rollup::InvalidProof {})
    );
    mined(rollup.call_builder(&exodus_prove_secret_call(&secret))).await;

    // D (Open): nobody registers.
    mined(rollup.call_builder(&exodus_channel_start_call(
        &l2.channel_proof(&id_d).unwrap(),
        &proof(&dave),
        &proof(&hub),
    )))
    .await;

    // E (Disputed, its L2 dispute over): final at once, no refutation.
    let receipt = mined(rollup.call_builder(&exodus_channel_start_call(
        &l2.channel_proof(&id_e).unwrap(),
        &proof(&erin),
        &proof(&hub),
    )))
    .await;
    let e_started = receipt
        .decoded_log::<Rollup::ChannelExitStarted>()
        .unwrap()
        .data;
    assert_eq!(e_started.deadline, 0);
    let e2 = state(id_e, 2, 2 * ETHER, 0, vec![]);
    assert_eq!(
        reverts(rollup.call_builder(&register(&e2, &erin.key, &hub.key))).await,
        E::ExitDisputeExpired(Rollup::ExitDisputeExpired { deadline: 0 })
    );

    // After the deadline: conclude (the registered state must be given back as it was), then
    // each side withdraws once.
    dev.increase_time(DEADLINE + 1).await;
    assert_eq!(
        reverts(rollup.exodusChannelConclude(id_a, channel_state(&a1))).await,
        E::StateMismatch(Rollup::StateMismatch {})
    );
    let conclusions = [
        (id_a, &a3, 2 * ETHER, 5 * ETHER), // the lock went to the hub
        (id_c, &c2, 3 * ETHER, 2 * ETHER), // the lock went to the hub
        (id_d, &a1, 2 * ETHER, 0),         // refunds: nothing registered
        (id_e, &e1, ETHER, ETHER),
    ];
    for (id, s, to_wallet, to_hub) in conclusions {
        let receipt = mined(
            rollup
                .exodusChannelConclude(id, channel_state(s))
                .from(relayer),
        )
        .await;
        assert_eq!(
            receipt
                .decoded_log::<Rollup::ChannelExitConcluded>()
                .unwrap()
                .data,
            Rollup::ChannelExitConcluded {
                channelId: id,
                toWallet: to_wallet,
                toHub: to_hub
            },
            "{id}"
        );
    }
    assert_eq!(
        reverts(rollup.exodusChannelConclude(id_a, channel_state(&a3))).await,
        E::ExitConcluded(Rollup::ExitConcluded { channelId: id_a })
    );
    for id in [id_a, id_c, id_d, id_e] {
        mined(rollup.exodusChannelWithdraw(id, false).from(relayer)).await;
        if id != id_d {
            mined(rollup.exodusChannelWithdraw(id, true).from(relayer)).await;
        }
        assert_eq!(
            reverts(rollup.exodusChannelWithdraw(id, false)).await,
            E::NothingToWithdraw(Rollup::NothingToWithdraw {})
        );
    }
    assert_eq!(
        reverts(rollup.exodusChannelWithdraw(id_d, true)).await,
        E::NothingToWithdraw(Rollup::NothingToWithdraw {})
    );
    let balances = [
        (alice.address(), 2 * ETHER),
        (carol.address(), 3 * ETHER),
        (dave.address(), 2 * ETHER),
        (erin.address(), ETHER),
        (hub.address(), 5 * ETHER + 2 * ETHER + ETHER),
    ];
    for (who, wei) in balances {
        assert_eq!(dev.eth_balance(who).await, U256::from(wei), "{who}");
    }
    // What the channels held (7 + 5 + 2 + 2 ETH) left the contract, and nothing more.
    let left = 60 * ETHER - 16 * ETHER;
    assert_eq!(dev.eth_balance(*rollup.address()).await, U256::from(left));
    assert_eq!(
        rollup.outstanding(0).call().await.unwrap(),
        U256::from(left)
    );
}
