//! The arguments of `Rollup.exodusWithdraw` from a protocol account proof.

use weft_protocol::state::AccountProof;

use crate::Rollup;

/// `exodusWithdraw(accountIndex, account, nonce, balances, token, siblings, channelsRoot,
/// secretsRoot, tokensHash, queuePosition)` for `token`, from a proof served by
/// `State::account_proof` (or the API) against the last finalized state root.
pub fn exodus_withdraw_call(proof: &AccountProof, token: u32) -> Rollup::exodusWithdrawCall {
    Rollup::exodusWithdrawCall {
        accountIndex: proof.index,
        account: proof.account.address,
        nonce: proof.account.nonce,
        balances: proof
            .account
            .balances()
            .map(|b| Rollup::Balance {
                token: b.token,
                amount: b.amount,
            })
            .collect(),
        token,
        siblings: proof.siblings.clone(),
        channelsRoot: proof.channels_root,
        secretsRoot: proof.secrets_root,
        tokensHash: proof.tokens_hash,
        queuePosition: proof.queue_position,
    }
}
