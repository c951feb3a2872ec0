use super::*;
use crate::{
    execution::{BlockExecutor, ParallelExecutor, SequentialExecutor},
    testkit::{BlockGen, Workload, env, genesis},
};
use proptest::prelude::*;

fn busy_state() -> State {
    let mut state = genesis(300, 1_000_000);
    let mut blocks = BlockGen::new(&state, 9);
    let w = Workload {
        odd_p: 0.3,
        new_receiver_p: 0.1,
        ..Workload::transfers(400)
    };
    for n in 1..=3 {
        let txs = blocks.block(&w);
        SequentialExecutor
            .execute_block(&mut state, &env(n), &txs)
            .unwrap();
    }
    state
}

#[test]
fn snapshot_round_trips_to_the_same_state_root() {
    let state = busy_state();
    assert!(state.secrets.tree.len() > 1, "the workload reveals secrets");
    let statuses: Vec<u8> = state.channels().iter().map(|c| c.status.as_u8()).collect();
    for status in 0..=2 {
        assert!(
            statuses.contains(&status),
            "status {status} in {statuses:?}"
        );
    }
    let bytes = state.encode_snapshot();
    let back = State::decode_snapshot(&bytes).unwrap();
    assert_eq!(back.state_root(), state.state_root());
    assert_eq!(back.account_count(), state.account_count());
    assert_eq!(back.encode_snapshot(), bytes);
    assert_eq!(back.channels(), state.channels());
    for c in state.channels() {
        assert_eq!(back.channel(&c.id), Some(c));
    }
}

#[test]
fn a_channel_of_an_unknown_account_or_token_is_rejected() {
    let state = busy_state();
    let bytes = state.encode_snapshot();
    let mut tail = Vec::new();
    let mut w = Writer(&mut tail);
    w.u32(&state.channels().len().try_into().unwrap());
    let records_at = bytes.len()
        - state
            .channels()
            .iter()
            .map(|c| {
                CHANNEL_FIXED_LEN
                    + match &c.status {
                        ChannelStatus::Disputed { state, .. } => 8 + state.to_bytes().len(),
                        _ => 0,
                    }
            })
            .sum::<usize>();
    assert_eq!(&bytes[records_at - 4..records_at], &tail[..]);
    // The first record's wallet index (after the 32-byte id).
    let wallet_at = records_at + 32;
    let mut bad = bytes.clone();
    bad[wallet_at..wallet_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        State::decode_snapshot(&bad).err(),
        Some(DecodeError::Invalid("channel participants"))
    );
    let token_at = wallet_at + 8;
    let mut bad = bytes.clone();
    bad[token_at..token_at + 4].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(
        State::decode_snapshot(&bad).err(),
        Some(DecodeError::Invalid("channel token"))
    );
    let status_at = records_at + CHANNEL_FIXED_LEN - 1;
    let mut bad = bytes;
    bad[status_at] = 3;
    assert!(State::decode_snapshot(&bad).is_err());
}

#[test]
fn truncated_or_extended_snapshots_are_rejected() {
    let bytes = busy_state().encode_snapshot();
    for cut in [0, 7, 12, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            State::decode_snapshot(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes;
    longer.push(0);
    assert_eq!(
        State::decode_snapshot(&longer).err(),
        Some(DecodeError::TrailingBytes(1))
    );
}

/// Runs `blocks` blocks of the busy workload with changes tracked; returns the data
/// before them, each block's changes and the state after.
fn tracked_blocks(blocks: u64, parallel: bool) -> (StateData, Vec<StateDelta>, State) {
    let mut state = genesis(300, 1_000_000);
    let mut blockgen = BlockGen::new(&state, 11);
    let w = Workload {
        odd_p: 0.3,
        new_receiver_p: 0.1,
        ..Workload::transfers(400)
    };
    let before = StateData::from_state(&state);
    state.track_changes();
    let mut executor = ParallelExecutor::new(2);
    let mut changes = Vec::new();
    for n in 1..=blocks {
        let txs = blockgen.block(&w);
        if parallel {
            executor.execute_block(&mut state, &env(n), &txs).unwrap();
        } else {
            SequentialExecutor
                .execute_block(&mut state, &env(n), &txs)
                .unwrap();
        }
        changes.push(state.take_changes());
    }
    (before, changes, state)
}

#[test]
fn each_blocks_changes_bring_a_copy_to_the_state_after_it() {
    for parallel in [false, true] {
        let (mut data, changes, state) = tracked_blocks(4, parallel);
        for delta in &changes {
            data.apply(delta).unwrap();
        }
        assert!(changes.iter().any(|d| !d.secrets.is_empty()));
        assert!(changes.iter().any(|d| !d.channels.is_empty()));
        assert_eq!(data, StateData::from_state(&state));
        assert_eq!(data.encode(), state.encode_snapshot());
        let rebuilt = State::from_data(data).unwrap();
        assert_eq!(rebuilt.state_root(), state.state_root());
    }
}

/// Applies `deltas` to `copy` and returns the one delta that covers them all, as the
/// sequencer's snapshotter builds it.
fn fold(copy: &mut StateData, deltas: &[StateDelta]) -> StateDelta {
    let secrets_from = copy.secrets.len() as u32;
    let (mut accounts, mut channels) = (Vec::new(), Vec::new());
    let mut evm = EvmDelta::default();
    for d in deltas {
        copy.apply(d).unwrap();
        accounts.extend(d.accounts.iter().map(|(i, _)| *i));
        channels.extend(d.channels.iter().map(|(p, _)| *p));
        evm.extend(&d.evm);
    }
    evm.normalize();
    accounts.sort_unstable();
    accounts.dedup();
    channels.sort_unstable();
    channels.dedup();
    copy.delta(&accounts, &channels, secrets_from, &evm)
}

#[test]
fn a_delta_over_several_blocks_round_trips_and_rebuilds_the_same_root() {
    let (before, changes, state) = tracked_blocks(4, true);
    let full = before.encode();
    // One delta for blocks 1–2 taken from a copy, another for 3–4.
    let mut copy = before;
    let mut points = Vec::new();
    for pair in changes.chunks(2) {
        points.push(fold(&mut copy, pair));
    }
    let encoded: Vec<Vec<u8>> = points
        .iter()
        .enumerate()
        .map(|(i, d)| d.encode(2 * i as u64))
        .collect();
    let mut data = StateData::decode(&full).unwrap();
    for (i, bytes) in encoded.iter().enumerate() {
        let (base, delta) = StateDelta::decode(bytes).unwrap();
        assert_eq!((base, &delta), (2 * i as u64, &points[i]));
        data.apply(&delta).unwrap();
    }
    assert_eq!(
        State::from_data(data).unwrap().state_root(),
        state.state_root()
    );
}

#[test]
fn a_delta_that_does_not_continue_the_data_is_refused() {
    let (before, changes, _) = tracked_blocks(2, true);
    // Block 2's changes on the state before block 1: its new accounts start past the end.
    let mut data = before.clone();
    assert!(data.apply(&changes[1]).is_err());
    let bytes = changes[0].encode(0);
    for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(StateDelta::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert!(StateDelta::decode(&before.encode()).is_err());
    assert!(StateData::decode(&bytes).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_be_bytes());
        bytes.extend_from_slice(&tail);
        let _ = State::decode_snapshot(&bytes);
    }
}

/// A world with contracts, then blocks of contract calls with tracked changes: what each
/// block's delta and the snapshot of the end hold.
fn contract_blocks() -> (StateData, Vec<StateDelta>, State) {
    use crate::testkit::evm::{EvmWorkload, EvmWorld, rng};
    let mut world = EvmWorld::new(24, 2);
    world
        .state
        .push_block_hash(world.number, B256::repeat_byte(7));
    world.state.track_changes();
    let before = StateData::from_state(&world.state);
    let mut changes = Vec::new();
    let mut rng = rng(5);
    // Code no contract has yet: init code that returns `PUSH1 42 PUSH1 0 MSTORE PUSH1 32
    // PUSH1 0 RETURN`.
    let runtime = [0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];
    let mut init = vec![
        0x60, 0x0a, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x0a, 0x60, 0x00, 0xf3,
    ];
    init.extend_from_slice(&runtime);
    for workload in [
        EvmWorkload::Mixed,
        EvmWorkload::Swaps(2),
        EvmWorkload::Mixed,
    ] {
        let mut txs = world.block(workload, 40, &mut rng);
        if changes.is_empty() {
            txs.push(world.tx(1, None, Default::default(), init.clone().into(), 100_000));
        }
        world.execute_unchecked(&txs);
        world
            .state
            .push_block_hash(world.number, B256::repeat_byte(world.number as u8));
        changes.push(world.state.take_changes());
    }
    (before, changes, world.state)
}

#[test]
fn contracts_code_and_storage_survive_snapshots_and_deltas() {
    let (mut data, changes, state) = contract_blocks();
    assert!(!changes[0].evm.contracts.is_empty() && changes[0].evm.code.len() == 1);
    assert!(changes.iter().all(|d| !d.evm.storage.is_empty()));
    let bytes = state.encode_snapshot();
    let back = State::decode_snapshot(&bytes).unwrap();
    assert_eq!(back.state_root(), state.state_root());
    assert_eq!(back.encode_snapshot(), bytes);
    assert_eq!(back.storage_slots(), state.storage_slots());
    assert_eq!(
        back.block_hash(state.block_hashes.back().unwrap().0),
        state.block_hashes.back().map(|b| b.1)
    );

    // Each block's delta, encoded and decoded, brings the copy to the state after it.
    for (i, delta) in changes.iter().enumerate() {
        let (_, decoded) = StateDelta::decode(&delta.encode(i as u64)).unwrap();
        assert_eq!(&decoded, delta);
        data.apply(&decoded).unwrap();
    }
    assert_eq!(data, StateData::from_state(&state));
    assert_eq!(
        State::from_data(data).unwrap().state_root(),
        state.state_root()
    );
}

#[test]
fn folded_contract_deltas_keep_the_last_value_of_each_slot() {
    let (before, changes, state) = contract_blocks();
    let one = fold(&mut before.clone(), &changes);
    let mut data = before;
    data.apply(&one).unwrap();
    assert_eq!(
        State::from_data(data).unwrap().state_root(),
        state.state_root()
    );
}
