//! The arguments of the exodus calls (`Rollup.exodusWithdraw`, and the L1 settlement of
//! channels while frozen) from the protocol's proofs.

use alloy::primitives::Bytes;
use weft_protocol::{
    channel::{ChannelState, ChannelStatus},
    eip712::Eip712,
    state::{AccountProof, ChannelProof, SecretProof},
};

use crate::Rollup;

/// `exodusWithdraw(accountIndex, account, nonce, balances, token, siblings, channelsRoot,
/// secretsRoot, tokensHash, queuePosition)` for `token`, from a proof served by
/// `State::account_proof` (or the API) against the last finalized state root.
pub fn exodus_withdraw_call(proof: &AccountProof, token: u32) -> Rollup::exodusWithdrawCall {
    Rollup::exodusWithdrawCall {
        accountIndex: proof.index,
        account: proof.account.address,
        nonce: proof.account.nonce,
        balances: balances(proof),
        token,
        siblings: proof.siblings.clone(),
        channelsRoot: proof.channels_root,
        secretsRoot: proof.secrets_root,
        tokensHash: proof.tokens_hash,
        queuePosition: proof.queue_position,
    }
}

/// `exodusProveRoots(roots)`: the state root's preimage, taken from any account proof
/// against the last finalized state root.
pub fn exodus_roots_call(proof: &AccountProof) -> Rollup::exodusProveRootsCall {
    Rollup::exodusProveRootsCall {
        roots: Rollup::StateRoots {
            accountsRoot: proof.accounts_root().unwrap_or_default(),
            channelsRoot: proof.channels_root,
            secretsRoot: proof.secrets_root,
            tokensHash: proof.tokens_hash,
            queuePosition: proof.queue_position,
        },
    }
}

/// An account leaf with its proof under `accountsRoot` (a channel participant).
pub fn account_witness(proof: &AccountProof) -> Rollup::AccountWitness {
    Rollup::AccountWitness {
        index: proof.index,
        account: proof.account.address,
        nonce: proof.account.nonce,
        balances: balances(proof),
        siblings: proof.siblings.clone(),
    }
}

/// The ABI form of a channel state (the same fields as its EIP-712 type).
pub fn channel_state(state: &ChannelState) -> Rollup::ChannelState {
    Rollup::ChannelState {
        channelId: state.channel_id,
        version: state.version,
        balanceWallet: state.balance_wallet,
        balanceHub: state.balance_hub,
        locks: state
            .locks
            .iter()
            .map(|l| Rollup::ChannelLock {
                amount: l.amount,
                hashlock: l.hashlock,
                expiry: l.expiry,
                direction: l.direction.as_u8(),
            })
            .collect(),
        isFinal: state.is_final,
    }
}

/// `exodusChannelStart(record, position, siblings, wallet, hub, registered)` from a channel
/// proof and both participants' account proofs, all against the last finalized state root.
pub fn exodus_channel_start_call(
    channel: &ChannelProof,
    wallet: &AccountProof,
    hub: &AccountProof,
) -> Rollup::exodusChannelStartCall {
    let r = &channel.record;
    let (deadline, registered) = match &r.status {
        ChannelStatus::Disputed { state, deadline } => (*deadline, Some(state)),
        ChannelStatus::Open | ChannelStatus::Closed => (0, None),
    };
    Rollup::exodusChannelStartCall {
        record: Rollup::ChannelRecord {
            id: r.id,
            wallet: r.wallet,
            hub: r.hub,
            token: r.token,
            total: r.total,
            walletSide: r.wallet_side,
            hubSide: r.hub_side,
            status: r.status.as_u8(),
            deadline,
            stateHash: registered.map(Eip712::struct_hash).unwrap_or_default(),
        },
        position: channel.position,
        siblings: channel.siblings.clone(),
        wallet: account_witness(wallet),
        hub: account_witness(hub),
        registered: registered.map(channel_state).unwrap_or_default(),
    }
}

/// `exodusChannelRegister(state, walletSignature, hubSignature)`: the signatures made for L2
/// verify on L1 unchanged (one EIP-712 domain).
pub fn exodus_channel_register_call(
    state: &ChannelState,
    wallet_signature: Bytes,
    hub_signature: Bytes,
) -> Rollup::exodusChannelRegisterCall {
    Rollup::exodusChannelRegisterCall {
        s: channel_state(state),
        walletSignature: wallet_signature,
        hubSignature: hub_signature,
    }
}

/// `exodusProveSecret(hashlock, revealBlock, position, siblings)`.
pub fn exodus_prove_secret_call(proof: &SecretProof) -> Rollup::exodusProveSecretCall {
    Rollup::exodusProveSecretCall {
        hashlock: proof.hashlock,
        revealBlock: proof.block,
        position: proof.position,
        siblings: proof.siblings.clone(),
    }
}

fn balances(proof: &AccountProof) -> Vec<Rollup::Balance> {
    proof
        .account
        .balances()
        .map(|b| Rollup::Balance {
            token: b.token,
            amount: b.amount,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{Address, B256, U256, keccak256},
        sol_types::SolValue,
    };
    use weft_protocol::{
        channel::{ChannelRecord, ChannelState, ChannelStatus},
        execution::Withdrawal,
        state::{Balance, GenesisAccount, State},
    };

    /// `Merkle.sol` hashes leaves and inner nodes alike; that is sound only while no leaf
    /// the contract proves has a 64-byte preimage (an inner node's). This pins every leaf
    /// encoding the contract checks (and the channel leaf an exodus of channel funds would
    /// prove): a change that makes one of them 64 bytes fails here.
    #[test]
    fn leaf_preimages_are_never_64_bytes() {
        // Withdrawal leaf: abi.encode(txHash, recipient, uint256 token, uint256 amount).
        let w = Withdrawal {
            recipient: Address::repeat_byte(7),
            token: 3,
            amount: 11,
        };
        let tx_hash = B256::repeat_byte(1);
        let preimage = (
            tx_hash,
            w.recipient,
            U256::from(w.token),
            U256::from(w.amount),
        )
            .abi_encode();
        assert_eq!(preimage.len(), 128);
        assert_eq!(w.leaf(&tx_hash), keccak256(&preimage));

        // Account leaf: 28 + 20 n bytes, never 64 for any n (64 - 28 is not a multiple of 20).
        assert_ne!((64 - 28) % 20, 0);
        for n in 0..6u32 {
            let address = Address::repeat_byte(0x40 + n as u8);
            let balances = (0..n)
                .map(|token| Balance {
                    token,
                    amount: 1 + u128::from(token),
                })
                .collect();
            let state = State::genesis(&[GenesisAccount { address, balances }], n.max(1)).unwrap();
            let proof = state.account_proof(0).unwrap();
            let preimage = proof.account.leaf_preimage();
            assert_eq!(preimage.len(), 28 + 20 * n as usize, "{n} balances");
            assert_eq!(proof.account.leaf_hash(), keccak256(&preimage));
            // A contract's leaf has its code hash after the nonce: 60 + 20 n bytes.
            let code_hash = B256::repeat_byte(9);
            let contract = proof.account.leaf_preimage_with_code(Some(&code_hash));
            assert_eq!(contract.len(), 60 + 20 * n as usize);
            assert_ne!(contract.len(), 64);
        }

        // Storage leaf: 0x01 ‖ key ‖ value, 65 bytes.
        let key = weft_protocol::state::slot_key(&Address::repeat_byte(5), &U256::from(3));
        assert_eq!(
            weft_protocol::state::slot_leaf(&key, &U256::from(4)),
            keccak256(
                [
                    &[1u8][..],
                    key.as_slice(),
                    &U256::from(4).to_be_bytes::<32>()
                ]
                .concat()
            )
        );

        // Channel leaf: 93 bytes open or closed, 133 disputed.
        let state = ChannelState {
            channel_id: B256::repeat_byte(2),
            version: 1,
            balance_wallet: 5,
            balance_hub: 6,
            locks: Vec::new(),
            is_final: false,
        };
        for (status, len) in [
            (ChannelStatus::Open, 93),
            (ChannelStatus::Closed, 93),
            (ChannelStatus::Disputed { state, deadline: 9 }, 133),
        ] {
            let record = ChannelRecord {
                id: B256::repeat_byte(3),
                wallet: 1,
                hub: 2,
                token: 0,
                total: 11,
                wallet_side: 5,
                hub_side: 6,
                status,
            };
            assert_eq!(record.leaf_preimage().len(), len);
            assert_ne!(len, 64);
        }

        // Revealed secret: hashlock ‖ uint64 block, 40 bytes.
        let secret = weft_protocol::state::SecretProof {
            hashlock: B256::repeat_byte(4),
            block: 9,
            position: 0,
            siblings: Vec::new(),
        };
        let preimage = [B256::repeat_byte(4).as_slice(), &9u64.to_be_bytes()].concat();
        assert_eq!(preimage.len(), 40);
        assert_eq!(secret.leaf(), keccak256(&preimage));
    }
}
