use super::*;
use proptest::prelude::*;

fn genesis(n: usize) -> State {
    let allocs: Vec<GenesisAccount> = (0..n)
        .map(|i| GenesisAccount {
            address: Address::from_word(keccak256((i as u64).to_be_bytes())),
            balances: vec![Balance {
                token: 0,
                amount: 1_000 + i as u128,
            }],
        })
        .collect();
    State::genesis(&allocs, 2).unwrap()
}

#[test]
fn balances_stay_sorted_and_drop_zeros() {
    let mut a = Account::new(Address::ZERO);
    a.set_balance(5, 10);
    a.set_balance(1, 20);
    a.set_balance(3, 30);
    let tokens: Vec<_> = a.balances().map(|b| b.token).collect();
    assert_eq!(tokens, vec![1, 3, 5]);
    a.debit(1, 20);
    assert_eq!(a.balance(1), 0);
    assert_eq!(a.balances().count(), 2);
    a.credit(9, 1);
    assert_eq!(a.balance(9), 1);
}

#[test]
fn leaf_hash_fast_path_equals_packed_preimage() {
    let mut a = Account::new(Address::repeat_byte(3));
    assert_eq!(a.leaf_hash(), keccak256(a.leaf_preimage()));
    a.nonce = 7;
    a.credit(0, 99);
    assert_eq!(a.leaf_hash(), keccak256(a.leaf_preimage()));
    a.credit(4, 1);
    assert_eq!(a.leaf_hash(), keccak256(a.leaf_preimage()));
}

#[test]
fn genesis_rejects_duplicates_and_overflow() {
    let g = GenesisAccount {
        address: Address::repeat_byte(1),
        balances: vec![Balance {
            token: 0,
            amount: u128::MAX,
        }],
    };
    assert!(matches!(
        State::genesis(&[g.clone(), g.clone()], 1),
        Err(GenesisError::DuplicateAccount(_))
    ));
    let mut h = g.clone();
    h.address = Address::repeat_byte(2);
    assert_eq!(
        State::genesis(&[g, h], 1).err(),
        Some(GenesisError::SupplyOverflow(0))
    );
}

#[test]
fn a_changed_balance_changes_the_state_root() {
    let mut s = genesis(40);
    let before = s.state_root();
    s.account_mut(17).credit(0, 1);
    commit_partition(&mut s.partitions[partition_of(17)], &[position_of(17)]);
    assert_ne!(s.state_root(), before);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_account_proof_verifies_and_only_for_its_index(
        n in 1usize..300,
        pick in any::<prop::sample::Index>(),
        other in any::<u32>(),
    ) {
        let s = genesis(n);
        let root = s.state_root();
        let i = pick.index(n) as AccountIndex;
        let proof = s.account_proof(i).unwrap();
        prop_assert!(proof.verify(&root));

        prop_assume!(other != i);
        let mut moved = proof;
        moved.index = other;
        prop_assert!(!moved.verify(&root));
    }

    #[test]
    fn account_proof_fails_on_any_bit_flip(
        n in 2usize..100,
        pick in any::<prop::sample::Index>(),
        target in 0usize..4,
        bit in 0usize..256,
        sib in 0usize..ACCOUNT_PROOF_LEN,
    ) {
        let s = genesis(n);
        let mut root = s.state_root();
        let i = pick.index(n) as AccountIndex;
        let mut proof = s.account_proof(i).unwrap();
        let flip = |h: &mut B256| h.0[bit / 8] ^= 1 << (bit % 8);
        match target {
            0 => proof.account.nonce ^= 1 << (bit % 64),
            1 => proof.index ^= 1 << (bit % 32),
            2 => flip(&mut proof.siblings[sib]),
            _ => flip(&mut root),
        }
        prop_assert!(!proof.verify(&root));
    }
}
