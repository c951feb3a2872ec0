//! The state updates of a channel, as pure functions from the latest state to the next one.
//!
//! Both sides build the state an update leads to with these functions and sign only that
//! state: the hub compares what a wallet signed with what it built, the wallet client checks
//! the hub's offers the same way. Each returns the next state (version + 1) or why the update
//! is impossible; none can create or destroy value: every next state has the same
//! [`ChannelState::total`] as its predecessor except [`deposit`], which adds exactly the
//! deposit.

use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection, MAX_LOCKS},
    primitives::{Amount, B256},
};

/// Why an update cannot be applied to a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The wallet's balance does not cover it.
    #[error("the wallet's balance does not cover {0}")]
    WalletBalance(Amount),
    /// The hub's balance does not cover it.
    #[error("the hub's balance ({available}) does not cover {amount}")]
    HubBalance {
        /// The hub's balance.
        available: Amount,
        /// The amount.
        amount: Amount,
    },
    /// A zero amount.
    #[error("amount must be positive")]
    ZeroAmount,
    /// No lock with this hashlock.
    #[error("no lock with hashlock {0}")]
    NoSuchLock(B256),
    /// A lock with this hashlock exists already.
    #[error("a lock with hashlock {0} exists already")]
    DuplicateLock(B256),
    /// Too many locks.
    #[error("a state holds at most {MAX_LOCKS} locks")]
    TooManyLocks,
    /// The state has locks (it cannot be final).
    #[error("the state has pending locks")]
    HasLocks,
    /// The state is final.
    #[error("the state is final")]
    Final,
    /// An amount past 2^128 - 1.
    #[error("amount overflow")]
    Overflow,
}

/// The highest version either side accepts or builds on: `2^63 - 1`. No channel gets
/// near it (a billion updates a second for 292 years), it fits the signed 64-bit version
/// columns, and `version + 1` never overflows below it. A state above it (a wallet's
/// one-signed state presented at sync) is refused.
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// Which side of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The wallet.
    Wallet,
    /// The hub.
    Hub,
}

fn next(prev: &ChannelState) -> Result<ChannelState, TransitionError> {
    if prev.is_final {
        return Err(TransitionError::Final);
    }
    let mut s = prev.clone();
    s.version = prev
        .version
        .checked_add(1)
        .ok_or(TransitionError::Overflow)?;
    Ok(s)
}

fn debit(balance: &mut Amount, amount: Amount, side: Side) -> Result<(), TransitionError> {
    *balance = balance.checked_sub(amount).ok_or(match side {
        Side::Wallet => TransitionError::WalletBalance(amount),
        Side::Hub => TransitionError::HubBalance {
            available: *balance,
            amount,
        },
    })?;
    Ok(())
}

fn balances(s: &mut ChannelState, side: Side) -> (&mut Amount, &mut Amount) {
    match side {
        Side::Wallet => (&mut s.balance_wallet, &mut s.balance_hub),
        Side::Hub => (&mut s.balance_hub, &mut s.balance_wallet),
    }
}

/// `from` pays `amount` to the other side.
pub fn pay(
    prev: &ChannelState,
    from: Side,
    amount: Amount,
) -> Result<ChannelState, TransitionError> {
    if amount == 0 {
        return Err(TransitionError::ZeroAmount);
    }
    let mut s = next(prev)?;
    let (payer, payee) = balances(&mut s, from);
    debit(payer, amount, from)?;
    *payee = payee.checked_add(amount).ok_or(TransitionError::Overflow)?;
    Ok(s)
}

/// Adds `lock`, debiting its sender's balance.
pub fn add_lock(prev: &ChannelState, lock: Lock) -> Result<ChannelState, TransitionError> {
    add_lock_settling(prev, &[], lock)
}

/// The update of a routed payment: `prev` with the locks of `settled` paid to their
/// receivers (their secrets are known to both sides) and `lock` added, one version up.
/// Settling earlier payments' locks in the next payment's update is what spares each
/// payment an update (and two signatures) of its own.
pub fn add_lock_settling(
    prev: &ChannelState,
    settled: &[B256],
    lock: Lock,
) -> Result<ChannelState, TransitionError> {
    let mut s = next(prev)?;
    for hashlock in settled {
        remove_lock(&mut s, hashlock, true)?;
    }
    if lock.amount == 0 {
        return Err(TransitionError::ZeroAmount);
    }
    if s.locks.iter().any(|l| l.hashlock == lock.hashlock) {
        return Err(TransitionError::DuplicateLock(lock.hashlock));
    }
    if s.locks.len() >= MAX_LOCKS {
        return Err(TransitionError::TooManyLocks);
    }
    let sender = match lock.direction {
        LockDirection::WalletToHub => Side::Wallet,
        LockDirection::HubToWallet => Side::Hub,
    };
    let (balance, _) = balances(&mut s, sender);
    debit(balance, lock.amount, sender)?;
    s.locks.push(lock);
    Ok(s)
}

/// Pays the locks of `hashlocks` to their receivers (their secrets were revealed), in one
/// update.
pub fn settle(prev: &ChannelState, hashlocks: &[B256]) -> Result<ChannelState, TransitionError> {
    let mut s = next(prev)?;
    for hashlock in hashlocks {
        remove_lock(&mut s, hashlock, true)?;
    }
    Ok(s)
}

/// Removes the lock of `hashlock`: paid to its receiver if `paid`, else back to its sender.
pub fn resolve_lock(
    prev: &ChannelState,
    hashlock: &B256,
    paid: bool,
) -> Result<ChannelState, TransitionError> {
    let mut s = next(prev)?;
    remove_lock(&mut s, hashlock, paid)?;
    Ok(s)
}

fn remove_lock(s: &mut ChannelState, hashlock: &B256, paid: bool) -> Result<(), TransitionError> {
    let at = s
        .locks
        .iter()
        .position(|l| &l.hashlock == hashlock)
        .ok_or(TransitionError::NoSuchLock(*hashlock))?;
    let lock = s.locks.remove(at);
    let to_hub = match lock.direction {
        LockDirection::WalletToHub => paid,
        LockDirection::HubToWallet => !paid,
    };
    let balance = if to_hub {
        &mut s.balance_hub
    } else {
        &mut s.balance_wallet
    };
    *balance = balance
        .checked_add(lock.amount)
        .ok_or(TransitionError::Overflow)?;
    Ok(())
}

/// `side` deposits `amount` on the rollup: the channel's total grows by it.
pub fn deposit(
    prev: &ChannelState,
    side: Side,
    amount: Amount,
) -> Result<ChannelState, TransitionError> {
    if amount == 0 {
        return Err(TransitionError::ZeroAmount);
    }
    let mut s = next(prev)?;
    let (balance, _) = balances(&mut s, side);
    *balance = balance
        .checked_add(amount)
        .ok_or(TransitionError::Overflow)?;
    if s.total().is_none() {
        return Err(TransitionError::Overflow);
    }
    Ok(s)
}

/// The final state of a cooperative close: same balances, no locks.
pub fn finalize(prev: &ChannelState) -> Result<ChannelState, TransitionError> {
    if !prev.locks.is_empty() {
        return Err(TransitionError::HasLocks);
    }
    let mut s = next(prev)?;
    s.is_final = true;
    Ok(s)
}

/// Whether `next` pays the hub at least what `prev` does, whatever secrets are revealed:
/// the locks both hold are the same, and the hub's balance in `next` covers its balance in
/// `prev` plus every lock of `prev` that `next` no longer holds (a lock only `next` holds can
/// only add to the hub's share). What a wallet gives away without the hub's signature (its
/// payments) passes; a state that would give the wallet more than `prev` does not.
pub fn never_pays_hub_less(prev: &ChannelState, next: &ChannelState) -> bool {
    if next.channel_id != prev.channel_id
        || next.is_final
        || next.total().is_none()
        || next.total() != prev.total()
    {
        return false;
    }
    let mut dropped: Amount = 0;
    for lock in &prev.locks {
        match next.locks.iter().find(|l| l.hashlock == lock.hashlock) {
            Some(l) if l == lock => {}
            Some(_) => return false,
            None => match dropped.checked_add(lock.amount) {
                Some(d) => dropped = d,
                None => return false,
            },
        }
    }
    prev.balance_hub
        .checked_add(dropped)
        .is_some_and(|floor| next.balance_hub >= floor)
}

/// What `next` does to `prev` if it is a routed payment's update
/// ([`add_lock_settling`]): the locks of `prev` it removes (in order) and the one it adds
/// last. Whether the balances match is for the caller to check, by building the update
/// from these and comparing.
pub fn settled_and_added(prev: &ChannelState, next: &ChannelState) -> Option<(Vec<Lock>, Lock)> {
    let (added, kept) = next.locks.split_last()?;
    let mut kept = kept.iter().peekable();
    let mut settled = Vec::new();
    for lock in &prev.locks {
        if kept.peek() == Some(&lock) {
            kept.next();
        } else {
            settled.push(lock.clone());
        }
    }
    kept.peek().is_none().then(|| (settled, added.clone()))
}

#[cfg(test)]
mod tests {
    use weft_protocol::primitives::keccak256;

    use super::*;

    fn state() -> ChannelState {
        ChannelState {
            channel_id: B256::repeat_byte(1),
            version: 4,
            balance_wallet: 100,
            balance_hub: 50,
            locks: vec![],
            is_final: false,
        }
    }

    fn lock(amount: Amount, direction: LockDirection) -> Lock {
        Lock {
            amount,
            hashlock: keccak256(b"s"),
            expiry: 10,
            direction,
        }
    }

    #[test]
    fn payments_move_value_and_keep_the_total() {
        let s = pay(&state(), Side::Wallet, 30).unwrap();
        assert_eq!((s.version, s.balance_wallet, s.balance_hub), (5, 70, 80));
        let s = pay(&s, Side::Hub, 80).unwrap();
        assert_eq!((s.balance_wallet, s.balance_hub), (150, 0));
        assert_eq!(s.total(), state().total());
        assert_eq!(
            pay(&s, Side::Hub, 1),
            Err(TransitionError::HubBalance {
                available: 0,
                amount: 1
            })
        );
        assert_eq!(pay(&s, Side::Wallet, 0), Err(TransitionError::ZeroAmount));
    }

    #[test]
    fn a_lock_resolves_to_its_receiver_or_back_to_its_sender() {
        let locked = add_lock(&state(), lock(40, LockDirection::HubToWallet)).unwrap();
        assert_eq!((locked.balance_wallet, locked.balance_hub), (100, 10));
        assert_eq!(locked.total(), state().total());
        let paid = resolve_lock(&locked, &keccak256(b"s"), true).unwrap();
        assert_eq!(
            (paid.balance_wallet, paid.balance_hub, paid.version),
            (140, 10, 6)
        );
        let refunded = resolve_lock(&locked, &keccak256(b"s"), false).unwrap();
        assert_eq!((refunded.balance_wallet, refunded.balance_hub), (100, 50));
        assert!(add_lock(&state(), lock(51, LockDirection::HubToWallet)).is_err());
        assert_eq!(
            add_lock(&locked, lock(1, LockDirection::WalletToHub)),
            Err(TransitionError::DuplicateLock(keccak256(b"s")))
        );
        assert_eq!(
            settled_and_added(&state(), &locked),
            Some((vec![], lock(40, LockDirection::HubToWallet)))
        );
        assert_eq!(settled_and_added(&locked, &paid), None);
    }

    #[test]
    fn the_next_payment_settles_revealed_locks_in_its_own_update() {
        let first = lock(40, LockDirection::WalletToHub);
        let second = Lock {
            hashlock: keccak256(b"t"),
            ..lock(30, LockDirection::WalletToHub)
        };
        let incoming = Lock {
            hashlock: keccak256(b"u"),
            ..lock(5, LockDirection::HubToWallet)
        };
        let s1 = add_lock(
            &add_lock(&state(), incoming.clone()).unwrap(),
            first.clone(),
        )
        .unwrap();
        // The second payment pays the first lock to the hub and adds its own lock.
        let s2 = add_lock_settling(&s1, &[first.hashlock], second.clone()).unwrap();
        assert_eq!(s2.version, s1.version + 1);
        assert_eq!(s2.locks, vec![incoming.clone(), second.clone()]);
        assert_eq!((s2.balance_wallet, s2.balance_hub), (30, 85));
        assert_eq!(s2.total(), state().total());
        assert_eq!(
            settled_and_added(&s1, &s2),
            Some((vec![first.clone()], second.clone()))
        );
        // A lock cannot be settled twice, nor a missing one.
        assert_eq!(
            add_lock_settling(&s2, &[first.hashlock], lock(1, LockDirection::HubToWallet)),
            Err(TransitionError::NoSuchLock(first.hashlock))
        );
        // Settling alone pays each lock to its receiver.
        let s3 = settle(&s2, &[incoming.hashlock, second.hashlock]).unwrap();
        assert!(s3.locks.is_empty());
        assert_eq!((s3.balance_wallet, s3.balance_hub), (35, 115));
        // Reordering kept locks is not a settlement.
        let mut shuffled = s2;
        shuffled.locks.swap(0, 1);
        assert_eq!(settled_and_added(&s1, &shuffled), None);
    }

    #[test]
    fn a_wallet_s_own_payments_never_pay_the_hub_less_and_its_gains_do() {
        let base = add_lock(&state(), lock(10, LockDirection::HubToWallet)).unwrap();
        // The wallet's payments: a lock to the hub, settling it, paying the hub.
        let paid_lock = Lock {
            hashlock: keccak256(b"p"),
            ..lock(20, LockDirection::WalletToHub)
        };
        let locked = add_lock(&base, paid_lock.clone()).unwrap();
        let settled = add_lock_settling(
            &locked,
            &[paid_lock.hashlock],
            Lock {
                hashlock: keccak256(b"q"),
                ..lock(5, LockDirection::WalletToHub)
            },
        )
        .unwrap();
        let paid = pay(&settled, Side::Wallet, 7).unwrap();
        for next in [&locked, &settled, &paid] {
            assert!(never_pays_hub_less(&base, next), "{next:?}");
        }
        // Gains of the wallet: the hub's lock paid to it, the hub paying, a lock refunded
        // to it, another deposit's total.
        let lock_paid = resolve_lock(&base, &keccak256(b"s"), true).unwrap();
        let hub_pays = pay(&base, Side::Hub, 1).unwrap();
        let refunded = resolve_lock(&locked, &paid_lock.hashlock, false).unwrap();
        let deposited = deposit(&base, Side::Wallet, 1).unwrap();
        assert!(!never_pays_hub_less(&base, &lock_paid));
        assert!(!never_pays_hub_less(&base, &hub_pays));
        assert!(!never_pays_hub_less(&locked, &refunded));
        assert!(!never_pays_hub_less(&base, &deposited));
        // A lock changed under the same hashlock.
        let mut changed = locked;
        changed.locks[0].expiry += 1;
        assert!(!never_pays_hub_less(&base, &changed));
    }

    #[test]
    fn final_states_have_no_locks_and_nothing_follows_them() {
        let locked = add_lock(&state(), lock(1, LockDirection::WalletToHub)).unwrap();
        assert_eq!(finalize(&locked), Err(TransitionError::HasLocks));
        let fin = finalize(&state()).unwrap();
        assert!(fin.is_final);
        assert_eq!(pay(&fin, Side::Wallet, 1), Err(TransitionError::Final));
    }

    #[test]
    fn deposits_grow_the_total_by_the_deposit() {
        let s = deposit(&state(), Side::Hub, 25).unwrap();
        assert_eq!(s.total(), Some(175));
        assert_eq!(s.balance_hub, 75);
    }
}
