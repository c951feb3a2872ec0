//! Deltas: the accounts, channels and secrets changed between two snapshot points, their
//! encoding (`DELTA_MAGIC`, laid out in the parent module's docs) and how they apply on top of
//! a [`StateData`].

use super::*;

/// What changed between two points of a chain (one block, or a snapshot interval): the
/// changed and new accounts and channels with their values after it, the secrets revealed
/// in it, and the small fields whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDelta {
    /// Changed and new accounts with their index, ascending.
    pub accounts: Vec<(AccountIndex, Account)>,
    /// Accounts in the state after it.
    pub account_count: AccountIndex,
    /// Every token's supply after it.
    pub supply: Vec<Amount>,
    /// The queue position after it.
    pub queue_position: u64,
    /// Position (in reveal order) of the first secret of `secrets`.
    pub secrets_from: u32,
    /// Secrets revealed in it, in reveal order.
    pub secrets: Vec<(B256, u64)>,
    /// Changed and new channel records with their position, ascending.
    pub channels: Vec<(u32, ChannelRecord)>,
    /// Channel records in the state after it.
    pub channel_count: u32,
    /// Contracts and code created, slots written, the recent block hashes after it.
    pub evm: EvmDelta,
}

impl StateDelta {
    /// Serialises the delta, applying on top of the snapshot point of block `base`.
    pub fn encode(&self, base: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.accounts.len() + 64);
        out.extend_from_slice(DELTA_MAGIC);
        let mut w = Writer(&mut out);
        w.u32(&DELTA_VERSION);
        w.u64(&base);
        w.u32(&self.account_count);
        w.u32(&(self.accounts.len() as u32));
        for (i, a) in &self.accounts {
            w.u32(i);
            write_account(&mut w, a);
        }
        w.u32(&(self.supply.len() as u32));
        for s in &self.supply {
            w.u128(s);
        }
        w.u64(&self.queue_position);
        w.u32(&self.secrets_from);
        write_secrets(&mut w, &self.secrets);
        w.u32(&self.channel_count);
        w.u32(&(self.channels.len() as u32));
        for (p, c) in &self.channels {
            w.u32(p);
            write_channel(&mut w, c);
        }
        self.evm.encode(&mut w);
        out
    }

    /// Reads [`Self::encode`] bytes: the base block and the delta.
    pub fn decode(bytes: &[u8]) -> Result<(u64, Self), DecodeError> {
        let mut buf = bytes;
        let mut r = Reader(&mut buf);
        if r.take(DELTA_MAGIC.len())? != DELTA_MAGIC {
            return Err(DecodeError::Invalid("delta magic"));
        }
        if r.u32()? != DELTA_VERSION {
            return Err(DecodeError::Invalid("delta version"));
        }
        let base = r.u64()?;
        let account_count = r.u32()?;
        let n = r.u32()? as usize;
        if n > r.0.len() / (4 + ACCOUNT_MIN_LEN) {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut accounts = Vec::with_capacity(n);
        for _ in 0..n {
            let i = r.u32()?;
            if accounts.last().is_some_and(|(last, _)| *last >= i) {
                return Err(DecodeError::Invalid("delta accounts out of order"));
            }
            accounts.push((i, decode_account(&mut r)?));
        }
        let supply = decode_supply(&mut r)?;
        let queue_position = r.u64()?;
        let secrets_from = r.u32()?;
        let secrets = decode_secrets(&mut r)?;
        let channel_count = r.u32()?;
        let k = r.u32()? as usize;
        if k > r.0.len() / (4 + CHANNEL_FIXED_LEN) {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut channels: Vec<(u32, ChannelRecord)> = Vec::with_capacity(k);
        for _ in 0..k {
            let p = r.u32()?;
            if channels.last().is_some_and(|(last, _)| *last >= p) {
                return Err(DecodeError::Invalid("delta channels out of order"));
            }
            channels.push((p, decode_channel(&mut r)?));
        }
        let evm = EvmDelta::decode(&mut r)?;
        if !buf.is_empty() {
            return Err(DecodeError::TrailingBytes(buf.len()));
        }
        Ok((
            base,
            Self {
                accounts,
                account_count,
                supply,
                queue_position,
                secrets_from,
                secrets,
                channels,
                channel_count,
                evm,
            },
        ))
    }
}
