//! The development genesis every Weft process derives the same way: `n` accounts with the
//! keys `keccak256("weft-dev-{i}")`, each funded with the same ETH balance. For devnets,
//! tests and benchmarks only: the keys are public.

use crate::{
    primitives::Amount,
    signature::SigningKey,
    state::{Balance, GenesisAccount},
};

/// The `i`-th development key.
pub fn dev_key(i: u32) -> SigningKey {
    SigningKey::from_seed(format!("weft-dev-{i}").as_bytes())
}

/// `n` development accounts holding `balance` wei each, in key order.
pub fn dev_allocations(n: u32, balance: Amount) -> Vec<GenesisAccount> {
    (0..n)
        .map(|i| GenesisAccount {
            address: dev_key(i).address(),
            balances: vec![Balance {
                token: 0,
                amount: balance,
            }],
        })
        .collect()
}
