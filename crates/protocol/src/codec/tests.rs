use proptest::{collection::vec, prelude::*, sample::select};

use super::*;
use crate::primitives::keccak256;

/// Every tag with its kind's name, in tag order.
const TAGS: [(u8, &str); 11] = [
    (1, "transfer"),
    (2, "withdraw"),
    (3, "channelOpen"),
    (4, "channelDeposit"),
    (5, "channelClose"),
    (6, "channelRegister"),
    (7, "channelRefute"),
    (8, "channelConclude"),
    (9, "revealSecret"),
    (16, "deposit"),
    (17, "forcedWithdraw"),
];

fn state() -> ChannelState {
    ChannelState {
        channel_id: B256::repeat_byte(0x77),
        version: 3,
        balance_wallet: 10,
        balance_hub: 20,
        locks: vec![Lock {
            amount: 5,
            hashlock: keccak256(b"secret"),
            expiry: 100,
            direction: LockDirection::HubToWallet,
        }],
        is_final: true,
    }
}

fn settle() -> ChannelSettle {
    ChannelSettle {
        from: Address::repeat_byte(0x11),
        state: state(),
        wallet_signature: Bytes::from(vec![0xaa; 65]),
        hub_signature: Bytes::from(vec![0xbb; 65]),
        fee: 1,
        nonce: 2,
    }
}

fn signature() -> Signature {
    Signature {
        r: B256::repeat_byte(0xcc),
        s: B256::repeat_byte(0xdd),
        y_parity: true,
    }
}

/// One transaction of each kind, in tag order.
fn one_of_each_kind() -> Vec<Transaction> {
    let (a, b, h) = (
        Address::repeat_byte(0x11),
        Address::repeat_byte(0x22),
        B256::repeat_byte(0x33),
    );
    vec![
        Transaction::Transfer(Transfer {
            from: a,
            to: b,
            token: 1,
            amount: 2,
            fee: 3,
            nonce: 4,
        }),
        Transaction::Withdraw(Withdraw {
            from: a,
            l1_recipient: b,
            token: 1,
            amount: 2,
            fee: 3,
            nonce: 4,
        }),
        Transaction::ChannelOpen(ChannelOpen {
            from: a,
            hub: b,
            token: 1,
            amount: 2,
            fee: 3,
            nonce: 4,
        }),
        Transaction::ChannelDeposit(ChannelDeposit {
            from: a,
            channel_id: h,
            amount: 2,
            state: state(),
            wallet_signature: Bytes::from(vec![0xaa; 65]),
            hub_signature: Bytes::from(vec![0xbb; 65]),
            fee: 3,
            nonce: 4,
        }),
        Transaction::ChannelClose(settle()),
        Transaction::ChannelRegister(settle()),
        Transaction::ChannelRefute(settle()),
        Transaction::ChannelConclude(ChannelConclude {
            from: a,
            channel_id: h,
            fee: 3,
            nonce: 4,
        }),
        Transaction::RevealSecret(RevealSecret {
            from: a,
            secret: h,
            fee: 3,
            nonce: 4,
        }),
        Transaction::Deposit(Deposit {
            queue_index: 5,
            to: b,
            token: 1,
            amount: 2,
        }),
        Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: 5,
            account: b,
            token: 1,
        }),
    ]
}

fn signed(transaction: Transaction) -> SignedTransaction {
    SignedTransaction {
        transaction,
        signature: signature(),
    }
}

/// Hex chunks, concatenated and decoded.
fn hex(chunks: &[&str]) -> Vec<u8> {
    alloy_primitives::hex::decode(chunks.concat()).unwrap()
}

#[test]
fn every_kind_round_trips_and_starts_with_its_tag() {
    let kinds = one_of_each_kind();
    assert_eq!(kinds.len(), TAGS.len());
    for (tx, (tag, name)) in kinds.into_iter().zip(TAGS) {
        assert_eq!(tx.kind(), name);
        let bytes = tx.to_bytes();
        assert_eq!(bytes[0], tag, "{name}");
        assert_eq!(Transaction::from_bytes(&bytes), Ok(tx.clone()), "{name}");

        let signed = signed(tx);
        let signed_bytes = signed.to_bytes();
        assert_eq!(signed_bytes.len(), bytes.len() + Signature::LEN);
        assert_eq!(signed_bytes[..bytes.len()], bytes[..]);
        assert_eq!(SignedTransaction::from_bytes(&signed_bytes), Ok(signed));
    }
}

#[test]
fn fixed_width_kinds_have_the_documented_lengths() {
    let lengths: Vec<usize> = one_of_each_kind()
        .iter()
        .map(|t| t.to_bytes().len())
        .collect();
    let settle = 1 + 20 + (32 + 8 + 16 + 16 + 1 + LOCK_LEN + 1) + (2 + 65) * 2 + 16 + 8;
    assert_eq!(
        lengths,
        [
            1 + 20 + 20 + 4 + 16 + 16 + 8,
            1 + 20 + 20 + 4 + 16 + 16 + 8,
            1 + 20 + 20 + 4 + 16 + 16 + 8,
            settle + 32 + 16,
            settle,
            settle,
            settle,
            1 + 20 + 32 + 16 + 8,
            1 + 20 + 32 + 16 + 8,
            1 + 8 + 20 + 4 + 16,
            1 + 8 + 20 + 4,
        ]
    );
    assert_eq!(state().locks[0].to_bytes().len(), LOCK_LEN);
}

#[test]
fn signed_channel_register_encodes_to_the_documented_layout() {
    let expected = hex(&[
        "06",                                                 // tag: ChannelRegister
        &"11".repeat(20),                                     // from
        &"77".repeat(32),                                     // state.channelId
        "0000000000000003",                                   // state.version
        "0000000000000000000000000000000a",                   // state.balanceWallet
        "00000000000000000000000000000014",                   // state.balanceHub
        "01",                                                 // state.locks: count
        "00000000000000000000000000000005",                   // locks[0].amount
        &alloy_primitives::hex::encode(keccak256(b"secret")), // locks[0].hashlock
        "0000000000000064",                                   // locks[0].expiry
        "01",                                                 // locks[0].direction: HubToWallet
        "01",                                                 // state.isFinal
        "0041",                                               // walletSignature: length
        &"aa".repeat(65),                                     // walletSignature
        "0041",                                               // hubSignature: length
        &"bb".repeat(65),                                     // hubSignature
        "00000000000000000000000000000001",                   // fee
        "0000000000000002",                                   // nonce
        &["cc".repeat(32), "dd".repeat(32)].concat(),         // signature r ‖ s
        "1c",                                                 // signature v = 28
    ]);
    let tx = signed(Transaction::ChannelRegister(settle()));
    assert_eq!(tx.to_bytes(), expected);
    assert_eq!(SignedTransaction::from_bytes(&expected), Ok(tx));
}

#[test]
fn trailing_bytes_are_rejected() {
    for tx in one_of_each_kind() {
        let mut bytes = tx.to_bytes();
        bytes.push(0);
        assert_eq!(
            Transaction::from_bytes(&bytes),
            Err(DecodeError::TrailingBytes(1))
        );
        let signed = signed(tx).to_bytes();
        assert_eq!(
            Transaction::from_bytes(&signed),
            Err(DecodeError::TrailingBytes(Signature::LEN))
        );
    }
}

#[test]
fn unknown_tags_are_rejected() {
    // 32 is an EVM transaction, 33 one without its signature (tested in
    // `evm_transactions_round_trip`).
    let known: Vec<u8> = TAGS.iter().map(|(t, _)| *t).chain([32, 33]).collect();
    for tag in (0..=u8::MAX).filter(|t| !known.contains(t)) {
        let mut bytes = vec![tag];
        bytes.extend([0; 300]);
        assert_eq!(
            Transaction::from_bytes(&bytes),
            Err(DecodeError::UnknownKind(tag))
        );
        assert_eq!(
            SignedTransaction::from_bytes(&bytes),
            Err(DecodeError::UnknownKind(tag))
        );
    }
    assert_eq!(
        Transaction::from_bytes(&[]),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn a_bool_byte_other_than_zero_or_one_is_rejected() {
    let bytes = Transaction::ChannelClose(settle()).to_bytes();
    // tag, from, then the state, whose last byte is isFinal.
    let at = 1 + 20 + state().to_bytes().len() - 1;
    assert_eq!(bytes[at], 1);
    for bad in [2, 0xff] {
        let mut bytes = bytes.clone();
        bytes[at] = bad;
        assert_eq!(
            Transaction::from_bytes(&bytes),
            Err(DecodeError::Invalid("isFinal"))
        );
    }
}

#[test]
fn a_lock_direction_other_than_zero_or_one_is_rejected() {
    let mut bytes = state().locks[0].to_bytes();
    assert_eq!(bytes[LOCK_LEN - 1], 1);
    bytes[LOCK_LEN - 1] = 2;
    assert_eq!(
        Lock::from_bytes(&bytes),
        Err(DecodeError::Invalid("lock direction"))
    );
}

#[test]
fn a_signature_v_other_than_27_or_28_is_rejected() {
    let mut bytes = signed(one_of_each_kind().remove(0)).to_bytes();
    let v_at = bytes.len() - 1;
    for v in [0, 1, 29, 0xff] {
        bytes[v_at] = v;
        assert_eq!(
            SignedTransaction::from_bytes(&bytes),
            Err(DecodeError::Signature(SignatureError::InvalidV(v)))
        );
    }
    for (v, y_parity) in [(27, false), (28, true)] {
        bytes[v_at] = v;
        assert_eq!(
            SignedTransaction::from_bytes(&bytes).map(|t| t.signature.y_parity),
            Ok(y_parity)
        );
    }
}

#[test]
fn oversized_co_signatures_encode_but_are_rejected_with_too_long() {
    for (len, written) in [(66, 66), (70_000, usize::from(u16::MAX))] {
        let mut tx = settle();
        tx.hub_signature = Bytes::from(vec![1; len]);
        let bytes = Transaction::ChannelRefute(tx).to_bytes();
        assert_eq!(
            Transaction::from_bytes(&bytes),
            Err(DecodeError::TooLong {
                what: "hubSignature",
                len: written,
                max: MAX_CO_SIGNATURE_LEN,
            })
        );
    }
}

#[test]
fn too_many_locks_encode_but_are_rejected_with_too_long() {
    for (count, written) in [(MAX_LOCKS + 1, MAX_LOCKS + 1), (300, 255)] {
        let mut s = state();
        s.locks = vec![s.locks[0].clone(); count];
        assert_eq!(
            ChannelState::from_bytes(&s.to_bytes()),
            Err(DecodeError::TooLong {
                what: "locks",
                len: written,
                max: MAX_LOCKS,
            })
        );
    }
    let mut s = state();
    s.locks = vec![s.locks[0].clone(); MAX_LOCKS];
    assert_eq!(ChannelState::from_bytes(&s.to_bytes()), Ok(s));
}

#[test]
fn a_lock_count_beyond_the_remaining_input_fails_before_reading_locks() {
    let mut bytes = state().to_bytes();
    let count_at = 32 + 8 + 16 + 16;
    bytes[count_at] = 2;
    // One lock and the isFinal byte are left: not enough for two locks.
    assert_eq!(
        ChannelState::from_bytes(&bytes),
        Err(DecodeError::UnexpectedEnd)
    );
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

fn co_signature() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=MAX_CO_SIGNATURE_LEN).prop_map(Bytes::from)
}

fn lock() -> impl Strategy<Value = Lock> {
    (any::<u128>(), b256(), any::<u64>(), any::<bool>()).prop_map(
        |(amount, hashlock, expiry, to_wallet)| Lock {
            amount,
            hashlock,
            expiry,
            direction: if to_wallet {
                LockDirection::HubToWallet
            } else {
                LockDirection::WalletToHub
            },
        },
    )
}

fn channel_state() -> impl Strategy<Value = ChannelState> {
    // Mostly a few locks, sometimes the most allowed.
    let locks = prop_oneof![4 => vec(lock(), 0..=3), 1 => vec(lock(), MAX_LOCKS)];
    (
        b256(),
        any::<u64>(),
        any::<u128>(),
        any::<u128>(),
        locks,
        any::<bool>(),
    )
        .prop_map(
            |(channel_id, version, balance_wallet, balance_hub, locks, is_final)| ChannelState {
                channel_id,
                version,
                balance_wallet,
                balance_hub,
                locks,
                is_final,
            },
        )
}

fn channel_settle() -> impl Strategy<Value = ChannelSettle> {
    (
        address(),
        channel_state(),
        co_signature(),
        co_signature(),
        any::<u128>(),
        any::<u64>(),
    )
        .prop_map(
            |(from, state, wallet_signature, hub_signature, fee, nonce)| ChannelSettle {
                from,
                state,
                wallet_signature,
                hub_signature,
                fee,
                nonce,
            },
        )
}

/// `(address, address, token, amount, fee, nonce)`: the shape of three kinds.
fn movement() -> impl Strategy<Value = (Address, Address, u32, u128, u128, u64)> {
    (
        address(),
        address(),
        any::<u32>(),
        any::<u128>(),
        any::<u128>(),
        any::<u64>(),
    )
}

/// `(from, bytes32, fee, nonce)`: the shape of two kinds.
fn reference() -> impl Strategy<Value = (Address, B256, u128, u64)> {
    (address(), b256(), any::<u128>(), any::<u64>())
}

/// An arbitrary transaction of any kind.
fn transaction() -> impl Strategy<Value = Transaction> {
    prop_oneof![
        movement().prop_map(|(from, to, token, amount, fee, nonce)| {
            Transaction::Transfer(Transfer {
                from,
                to,
                token,
                amount,
                fee,
                nonce,
            })
        }),
        movement().prop_map(|(from, l1_recipient, token, amount, fee, nonce)| {
            Transaction::Withdraw(Withdraw {
                from,
                l1_recipient,
                token,
                amount,
                fee,
                nonce,
            })
        }),
        movement().prop_map(|(from, hub, token, amount, fee, nonce)| {
            Transaction::ChannelOpen(ChannelOpen {
                from,
                hub,
                token,
                amount,
                fee,
                nonce,
            })
        }),
        (b256(), any::<u128>(), channel_settle()).prop_map(|(channel_id, amount, s)| {
            Transaction::ChannelDeposit(ChannelDeposit {
                from: s.from,
                channel_id,
                amount,
                state: s.state,
                wallet_signature: s.wallet_signature,
                hub_signature: s.hub_signature,
                fee: s.fee,
                nonce: s.nonce,
            })
        }),
        channel_settle().prop_map(Transaction::ChannelClose),
        channel_settle().prop_map(Transaction::ChannelRegister),
        channel_settle().prop_map(Transaction::ChannelRefute),
        reference().prop_map(|(from, channel_id, fee, nonce)| {
            Transaction::ChannelConclude(ChannelConclude {
                from,
                channel_id,
                fee,
                nonce,
            })
        }),
        reference().prop_map(|(from, secret, fee, nonce)| {
            Transaction::RevealSecret(RevealSecret {
                from,
                secret,
                fee,
                nonce,
            })
        }),
        (any::<u64>(), address(), any::<u32>(), any::<u128>()).prop_map(
            |(queue_index, to, token, amount)| {
                Transaction::Deposit(Deposit {
                    queue_index,
                    to,
                    token,
                    amount,
                })
            }
        ),
        (any::<u64>(), address(), any::<u32>()).prop_map(|(queue_index, account, token)| {
            Transaction::ForcedWithdraw(ForcedWithdraw {
                queue_index,
                account,
                token,
            })
        }),
    ]
}

/// An arbitrary signed transaction (not necessarily a valid signature).
fn signed_transaction() -> impl Strategy<Value = SignedTransaction> {
    (transaction(), b256(), b256(), any::<bool>()).prop_map(|(transaction, r, s, y_parity)| {
        SignedTransaction {
            transaction,
            signature: Signature { r, s, y_parity },
        }
    })
}

/// Random bytes, half of them behind a valid tag so that decoding gets past it.
fn fuzz_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..512),
        (
            select(TAGS.map(|(t, _)| t).to_vec()),
            vec(any::<u8>(), 0..511)
        )
            .prop_map(|(tag, mut rest)| {
                rest.insert(0, tag);
                rest
            }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_transactions_round_trip(tx in transaction()) {
        prop_assert_eq!(Transaction::from_bytes(&tx.to_bytes()), Ok(tx));
    }

    #[test]
    fn arbitrary_signed_transactions_round_trip(tx in signed_transaction()) {
        prop_assert_eq!(SignedTransaction::from_bytes(&tx.to_bytes()), Ok(tx));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_only_canonical_bytes_decode(bytes in fuzz_bytes()) {
        if let Ok(tx) = Transaction::from_bytes(&bytes) {
            prop_assert_eq!(tx.to_bytes(), bytes.clone());
        }
        if let Ok(tx) = SignedTransaction::from_bytes(&bytes) {
            prop_assert_eq!(tx.to_bytes(), bytes);
        }
    }

    #[test]
    fn every_strict_prefix_of_a_valid_encoding_fails(tx in signed_transaction()) {
        let bytes = tx.to_bytes();
        for len in 0..bytes.len() {
            prop_assert_eq!(
                SignedTransaction::decode(&mut &bytes[..len]),
                Err(DecodeError::UnexpectedEnd)
            );
        }
    }

    #[test]
    fn a_mutated_encoding_either_fails_or_re_encodes_to_the_same_bytes(
        tx in signed_transaction(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = tx.to_bytes();
        let at = at.index(bytes.len());
        bytes[at] = byte;
        if let Ok(decoded) = SignedTransaction::from_bytes(&bytes) {
            prop_assert_eq!(decoded.to_bytes(), bytes);
        }
    }
}

/// The JSON form of the API must never panic on hostile input either.
mod json_fuzz {
    use proptest::sample::Index;
    use serde_json::Value;

    use super::*;

    /// Placeholder strings, replaced in the serialized text by JSON that `Value` cannot
    /// hold or that is awkward to build as one (numbers past `u64`, deep nesting).
    const RAW: [(&str, &str); 6] = [
        ("@@u128+1@@", "340282366920938463463374607431768211456"),
        (
            "@@huge@@",
            "123456789012345678901234567890123456789012345678901234567890",
        ),
        ("@@exp@@", "1e400"),
        ("@@neg0@@", "-0"),
        ("@@deep-array@@", "__DEEP_ARRAY__"),
        ("@@deep-object@@", "__DEEP_OBJECT__"),
    ];

    fn raw_text(placeholder: &str) -> String {
        let text = RAW.iter().find(|(p, _)| *p == placeholder).unwrap().1;
        match text {
            "__DEEP_ARRAY__" => format!("{}{}", "[".repeat(300), "]".repeat(300)),
            "__DEEP_OBJECT__" => format!("{}1{}", "{\"a\":".repeat(300), "}".repeat(300)),
            other => other.to_owned(),
        }
    }

    /// Arbitrary JSON values, nested a few levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            select(TAGS.map(|(_, n)| n).to_vec()).prop_map(Value::from),
            "0x[0-9a-f]{0,140}".prop_map(Value::from),
            "[0-9]{1,45}".prop_map(Value::from),
            select(RAW.map(|(p, _)| p).to_vec()).prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::from),
                vec(("[a-zA-Z]{0,8}", inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Remove,
        Replace(Value),
        AddField(String, Value),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            Just(Mutation::Remove),
            json_value().prop_map(Mutation::Replace),
            ("[a-zA-Z]{1,12}", json_value()).prop_map(|(k, v)| Mutation::AddField(k, v)),
        ]
    }

    #[derive(Debug, Clone)]
    enum Step {
        Key(String),
        At(usize),
    }

    /// The path of every node of `value`, the root included.
    fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(prefix.clone());
        let children: Vec<(Step, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Step::At(i), v))
                .collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            prefix.push(step);
            paths(child, prefix, out);
            prefix.pop();
        }
    }

    fn node<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
        path.iter().fold(value, |v, step| match step {
            Step::Key(k) => &mut v[k.as_str()],
            Step::At(i) => &mut v[*i],
        })
    }

    fn apply(json: &mut Value, at: Index, mutation: Mutation) {
        let mut all = Vec::new();
        paths(json, &mut Vec::new(), &mut all);
        let path = at.get(&all).clone();
        match (mutation, path.split_last()) {
            (Mutation::Remove, Some((last, parent))) => match (node(json, parent), last) {
                (Value::Object(map), Step::Key(k)) => {
                    map.remove(k);
                }
                (Value::Array(items), Step::At(i)) => {
                    items.remove(*i);
                }
                _ => unreachable!("paths only step into objects and arrays"),
            },
            (Mutation::Remove, None) => *json = Value::Null,
            (Mutation::Replace(v), _) => *node(json, &path) = v,
            (Mutation::AddField(k, v), _) => {
                if let Value::Object(map) = node(json, &path) {
                    map.insert(k, v);
                }
            }
        }
    }

    fn mutated_json() -> impl Strategy<Value = String> {
        (
            signed_transaction(),
            vec((any::<Index>(), mutation()), 1..4),
        )
            .prop_map(|(tx, mutations)| {
                let mut json = serde_json::to_value(&tx).unwrap();
                for (at, m) in mutations {
                    apply(&mut json, at, m);
                }
                let mut text = json.to_string();
                for (placeholder, _) in RAW {
                    text = text.replace(&format!("\"{placeholder}\""), &raw_text(placeholder));
                }
                text
            })
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(
            text in prop_oneof![
                any::<String>(),
                "[\\[\\]{}\":,0-9a-zA-Z. +-]{0,200}",
                "[\\[\\]{}\":,0-9a-zA-Z. +-]{0,200}"
                    .prop_map(|s| format!("{{\"transaction\":{{\"type\":{s}")),
            ]
        ) {
            let _ = serde_json::from_str::<SignedTransaction>(&text);
        }

        #[test]
        fn valid_json_with_random_mutations_never_panics(text in mutated_json()) {
            let _ = serde_json::from_str::<SignedTransaction>(&text);
        }

        #[test]
        fn valid_json_round_trips(tx in signed_transaction()) {
            let text = serde_json::to_string(&tx).unwrap();
            prop_assert_eq!(serde_json::from_str::<SignedTransaction>(&text).unwrap(), tx);
        }
    }
}

#[test]
fn evm_transactions_round_trip() {
    use crate::testkit::evm::{EvmWorkload, EvmWorld, rng};
    let mut world = EvmWorld::new(4, 1);
    for tx in world.block(EvmWorkload::Mixed, 30, &mut rng(3)) {
        let bytes = tx.transaction.to_bytes();
        assert_eq!(Transaction::from_bytes(&bytes).unwrap(), tx.transaction);
        if let Transaction::Evm(_) = &tx.transaction {
            assert_eq!(bytes[0], 32);
            // A cut envelope does not decode, nor does a length past the limit.
            assert!(Transaction::from_bytes(&bytes[..bytes.len() - 1]).is_err());
            let mut long = bytes.clone();
            long[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
            assert!(Transaction::from_bytes(&long).is_err());

            // Without its signature (as read back from the DA payload): tag 33, the
            // sender, the envelope with the placeholder signature; and in JSON.
            let unsigned = tx.transaction.without_signature();
            let bytes = unsigned.to_bytes();
            assert_eq!(bytes[0], 33);
            assert_eq!(&bytes[1..21], tx.transaction.sender().unwrap().as_slice());
            assert_eq!(Transaction::from_bytes(&bytes).unwrap(), unsigned);
            assert_eq!(
                Transaction::from_stored_bytes(&bytes, tx.transaction.sender()).unwrap(),
                unsigned
            );
            assert!(Transaction::from_bytes(&bytes[..bytes.len() - 1]).is_err());
            let json = serde_json::to_string(&unsigned).unwrap();
            assert_eq!(
                serde_json::from_str::<Transaction>(&json).unwrap(),
                unsigned
            );
            // A signed envelope under tag 33 is refused: the tag means no signature.
            let mut signed_as_unsigned = vec![33];
            signed_as_unsigned.extend_from_slice(&bytes[1..21]);
            signed_as_unsigned.extend_from_slice(&tx.transaction.to_bytes()[1..]);
            assert!(Transaction::from_bytes(&signed_as_unsigned).is_err());
        }
    }
}
