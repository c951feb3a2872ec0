//! The data-availability codec: a batch of blocks as compact, compressed bytes from which
//! anyone can re-execute every transaction (and so rebuild the state) with L1 data alone.
//!
//! What it leaves out, because it can be derived: signatures (the prover checks them from
//! its witness), receipts and roots (re-execution yields them), block numbers
//! (consecutive), queue indexes (consecutive from the batch's queue start), addresses
//! already indexed (an account is referred to by its dense index), and most nonces (a
//! sender's nonce is written on its first transaction of the batch and implied after).
//! Amounts are packed as a decimal mantissa and exponent. The fields are laid out in
//! columns (kinds, account references, nonces, amounts, the rest, new addresses, then the
//! EVM columns) and the whole is compressed with zstd, so the skew of real traffic (a few
//! hot accounts, round amounts, a few hot contracts and functions) compresses well.
//!
//! Account references follow exactly the order in which the executor assigns indexes
//! (each block's fee recipient, then every transaction's addresses in field order), so a
//! reference equal to the next free index introduces a new address, read from the address
//! column.
//!
//! EVM transactions ([`evm`]) travel without their signature: sender by account
//! reference, nonce implied, type, gas and fee fields behind a flags word (fees "as the
//! sender's previous", gas limit "as the previous call to this callee"), the callee and
//! address arguments as account references or entries of a batch-wide address
//! dictionary, the selector from a batch-wide dictionary, other ABI words stripped of
//! leading zeros or packed as amounts. Decoded, an EVM transaction has no signature
//! ([`crate::evm::EvmTransaction::from_unsigned`]); its transactions-root leaf does not
//! need one ([`crate::transaction::Transaction::leaf`]), so re-executed blocks hash as the
//! sequencer's.

pub mod blob;
mod evm;

use alloy_primitives::map::AddressMap;

use crate::{
    channel::ChannelState,
    codec::{Decode, Encode, Reader, Writer},
    error::DecodeError,
    execution::prepare::addresses,
    primitives::{AccountIndex, Address, Amount, B256, Nonce, TokenId},
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, ForcedWithdraw,
        RevealSecret, Transaction, Transfer, Withdraw,
    },
};

/// Format version written first in every payload (2: a channel opener's hub is an account
/// reference, as the executor indexes it; 3: EVM transactions without signatures, in
/// their own columns).
pub const VERSION: u8 = 3;
/// zstd level used for payloads. 15, not the highest standard level (19): on the DA
/// benchmark's batches it gives the same size (4.49 against 4.52 bytes per native
/// transfer, 5.97 against 5.98 per transaction of the mixed EVM batch) for a third to a
/// half of the compression time, which the batcher spends on every sealed batch (`cargo
/// bench -p weft-protocol --bench da`, its level sweep). Decoding does not depend on it.
pub const COMPRESSION_LEVEL: i32 = 15;
/// Most bytes a payload may decompress to (bounds a decompression bomb).
pub const MAX_DECOMPRESSED: usize = 256 << 20;

const EXPLICIT_NONCE: u8 = 0x10;
const NONZERO_TOKEN: u8 = 0x20;
const NONZERO_FEE: u8 = 0x40;
const KIND_MASK: u8 = 0x0f;

/// One block as the DA layer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaBlock {
    /// Block number (consecutive within a batch).
    pub number: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Fee recipient.
    pub fee_recipient: Address,
    /// Transactions in block order.
    pub transactions: Vec<Transaction>,
}

/// A decoded batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaBatch {
    /// Number of accounts before the batch's first block.
    pub accounts_before: AccountIndex,
    /// L1 queue position before the batch's first block.
    pub queue_before: u64,
    /// The blocks.
    pub blocks: Vec<DaBlock>,
}

/// A payload that cannot be built or read.
#[derive(Debug, thiserror::Error)]
pub enum DaError {
    /// Decompression failed or exceeded its bound.
    #[error("payload does not decompress: {0}")]
    Compression(String),
    /// The decompressed bytes are malformed.
    #[error("malformed payload: {0}")]
    Decode(#[from] DecodeError),
    /// An account reference points past the known accounts.
    #[error("account reference {0} is unknown")]
    UnknownAccount(AccountIndex),
    /// Blocks of a batch must be consecutive with non-decreasing timestamps.
    #[error("blocks are not consecutive")]
    NotConsecutive,
    /// A system transaction's queue index is not the next one.
    #[error("queue index {got}, expected {expected}")]
    QueueOrder {
        /// Expected index.
        expected: u64,
        /// Found.
        got: u64,
    },
}

/// An EVM transaction: its sender's reference, its nonce as native kinds', the rest in the
/// EVM columns ([`evm`]).
const EVM_KIND: u8 = 12;

fn kind_tag(tx: &Transaction) -> u8 {
    match tx {
        Transaction::Transfer(_) => 1,
        Transaction::Withdraw(_) => 2,
        Transaction::ChannelOpen(_) => 3,
        Transaction::ChannelDeposit(_) => 4,
        Transaction::ChannelClose(_) => 5,
        Transaction::ChannelRegister(_) => 6,
        Transaction::ChannelRefute(_) => 7,
        Transaction::ChannelConclude(_) => 8,
        Transaction::RevealSecret(_) => 9,
        Transaction::Deposit(_) => 10,
        Transaction::ForcedWithdraw(_) => 11,
        Transaction::Evm(_) => EVM_KIND,
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Result<u128, DecodeError> {
    let mut v: u128 = 0;
    for shift in (0..128).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or(DecodeError::UnexpectedEnd)?;
        *buf = rest;
        let bits = u128::from(b & 0x7f);
        if shift == 126 && bits > 3 {
            return Err(DecodeError::Invalid("varint overflows 128 bits"));
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError::Invalid("varint longer than 19 bytes"))
}

fn get_u64(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    u64::try_from(get_varint(buf)?).map_err(|_| DecodeError::Invalid("varint exceeds 64 bits"))
}

fn get_u32(buf: &mut &[u8]) -> Result<u32, DecodeError> {
    u32::try_from(get_varint(buf)?).map_err(|_| DecodeError::Invalid("varint exceeds 32 bits"))
}

/// An amount as `mantissa · 10^exp`, written as one varint `mantissa << 6 | exp`; an amount
/// whose mantissa does not fit in 122 bits is written raw after the escape exponent 63.
fn put_amount(out: &mut Vec<u8>, amount: Amount) {
    let (mut mantissa, mut exp) = (amount, 0u32);
    while mantissa != 0 && mantissa % 10 == 0 && exp < 38 {
        mantissa /= 10;
        exp += 1;
    }
    if mantissa >> 122 != 0 {
        put_varint(out, 63);
        out.extend_from_slice(&amount.to_be_bytes());
    } else {
        put_varint(out, (mantissa << 6) | u128::from(exp));
    }
}

fn get_amount(buf: &mut &[u8]) -> Result<Amount, DecodeError> {
    let v = get_varint(buf)?;
    let exp = (v & 63) as u32;
    if exp == 63 {
        return Reader(buf).u128();
    }
    if exp > 38 {
        return Err(DecodeError::Invalid("amount exponent"));
    }
    (v >> 6)
        .checked_mul(10u128.pow(exp))
        .ok_or(DecodeError::Invalid("amount overflows 128 bits"))
}

/// The column buffers of a payload.
#[derive(Default)]
struct Columns {
    kinds: Vec<u8>,
    refs: Vec<u8>,
    nonces: Vec<u8>,
    amounts: Vec<u8>,
    misc: Vec<u8>,
    new_addresses: Vec<u8>,
    evm: evm::EvmColumns,
}

/// The encoder's account numbering: accounts that existed before the batch by their
/// index, then every address the batch's transaction fields introduce, in the executor's
/// order.
struct Numbering<F> {
    accounts_before: AccountIndex,
    next: AccountIndex,
    created: AddressMap<AccountIndex>,
    index_of: F,
}

impl<F: Fn(&Address) -> Option<AccountIndex>> Numbering<F> {
    /// The reference of `address` if it has one already.
    fn known(&self, address: &Address) -> Option<AccountIndex> {
        self.created
            .get(address)
            .copied()
            .or_else(|| (self.index_of)(address).filter(|&i| i < self.accounts_before))
    }

    /// The reference of `address`, numbering it (and writing it to `new_addresses`) if new.
    fn refer(&mut self, address: &Address, new_addresses: &mut Vec<u8>) -> AccountIndex {
        self.known(address).unwrap_or_else(|| {
            self.created.insert(*address, self.next);
            new_addresses.extend_from_slice(address.as_slice());
            self.next += 1;
            self.next - 1
        })
    }
}

/// Encodes and compresses a batch; returns the payload and the number of accounts after
/// the batch. `index_of` gives the index of an address that existed before the batch (the
/// sequencer's state after the batch is fine: indexes at or past `accounts_before` are
/// treated as created by the batch). The count after the batch includes the senders the
/// batch introduces, not the accounts contracts create while executing.
pub fn encode_batch(
    blocks: &[DaBlock],
    accounts_before: AccountIndex,
    queue_before: u64,
    index_of: impl Fn(&Address) -> Option<AccountIndex>,
) -> (Vec<u8>, AccountIndex) {
    let mut head = vec![VERSION];
    put_varint(&mut head, accounts_before.into());
    put_varint(&mut head, queue_before.into());
    put_varint(&mut head, blocks.first().map_or(0, |b| b.number).into());
    put_varint(&mut head, blocks.len() as u128);
    let mut cols = Columns::default();
    let mut numbering = Numbering {
        accounts_before,
        next: accounts_before,
        created: AddressMap::default(),
        index_of,
    };
    let mut evm_memory = evm::Memory::default();
    let mut last_nonce: AddressMap<Nonce> = AddressMap::default();
    let mut previous_time = 0;
    for block in blocks {
        put_varint(
            &mut head,
            (block.timestamp - previous_time.min(block.timestamp)).into(),
        );
        previous_time = block.timestamp;
        put_varint(&mut head, block.transactions.len() as u128);
        let index = numbering.refer(&block.fee_recipient, &mut cols.new_addresses);
        put_varint(&mut cols.refs, index.into());
        for tx in &block.transactions {
            for address in addresses(tx).iter().flatten() {
                let index = numbering.refer(address, &mut cols.new_addresses);
                put_varint(&mut cols.refs, index.into());
            }
            if let Transaction::Evm(t) = tx {
                let mut kind = EVM_KIND;
                if !implied_nonce(&mut last_nonce, t.sender(), t.nonce()) {
                    kind |= EXPLICIT_NONCE;
                    put_varint(&mut cols.nonces, t.nonce().into());
                }
                cols.kinds.push(kind);
                evm::encode(&mut cols.evm, &mut cols.amounts, &mut evm_memory, t, &|a| {
                    numbering.known(a)
                });
            } else {
                encode_fields(&mut cols, tx, &mut last_nonce);
            }
        }
    }
    let accounts_after = numbering.next;
    let mut raw = head;
    for col in [
        &cols.kinds,
        &cols.refs,
        &cols.nonces,
        &cols.amounts,
        &cols.misc,
        &cols.new_addresses,
    ]
    .into_iter()
    .chain(cols.evm.all())
    {
        put_varint(&mut raw, col.len() as u128);
        raw.extend_from_slice(col);
    }
    let payload =
        zstd::bulk::compress(&raw, COMPRESSION_LEVEL).expect("compressing to memory cannot fail");
    (payload, accounts_after)
}

/// Records `nonce` as `from`'s latest; whether it is the one implied by the previous.
fn implied_nonce(last_nonce: &mut AddressMap<Nonce>, from: Address, nonce: Nonce) -> bool {
    let implied = last_nonce.get(&from).map(|n| n.wrapping_add(1));
    last_nonce.insert(from, nonce);
    implied == Some(nonce)
}

/// Writes a native transaction's kind byte and its non-address fields.
fn encode_fields(cols: &mut Columns, tx: &Transaction, last_nonce: &mut AddressMap<Nonce>) {
    let mut kind = kind_tag(tx);
    let (token, amount) = match tx {
        Transaction::Transfer(t) => (t.token, Some(t.amount)),
        Transaction::Withdraw(t) => (t.token, Some(t.amount)),
        Transaction::ChannelOpen(t) => (t.token, Some(t.amount)),
        Transaction::ChannelDeposit(t) => (0, Some(t.amount)),
        Transaction::Deposit(d) => (d.token, Some(d.amount)),
        Transaction::ForcedWithdraw(f) => (f.token, None),
        _ => (0, None),
    };
    if token != 0 {
        kind |= NONZERO_TOKEN;
    }
    if let Some((from, nonce, fee)) = tx.signer_fields() {
        if fee != 0 {
            kind |= NONZERO_FEE;
        }
        if !implied_nonce(last_nonce, from, nonce) {
            kind |= EXPLICIT_NONCE;
            put_varint(&mut cols.nonces, nonce.into());
        }
        if fee != 0 {
            put_amount(&mut cols.amounts, fee);
        }
    }
    cols.kinds.push(kind);
    if token != 0 {
        put_varint(&mut cols.misc, token.into());
    }
    if let Some(amount) = amount {
        put_amount(&mut cols.amounts, amount);
    }
    let mut w = Writer(&mut cols.misc);
    match tx {
        Transaction::Withdraw(t) => w.address(&t.l1_recipient),
        Transaction::ChannelDeposit(t) => {
            w.b256(&t.channel_id);
            t.state.encode(w.0);
            w.bytes(&t.wallet_signature);
            w.bytes(&t.hub_signature);
        }
        Transaction::ChannelClose(s)
        | Transaction::ChannelRegister(s)
        | Transaction::ChannelRefute(s) => {
            s.state.encode(w.0);
            w.bytes(&s.wallet_signature);
            w.bytes(&s.hub_signature);
        }
        Transaction::ChannelConclude(t) => w.b256(&t.channel_id),
        Transaction::RevealSecret(t) => w.b256(&t.secret),
        _ => {}
    }
}

/// Reads the stream of one column.
fn column<'a>(raw: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let len =
        usize::try_from(get_varint(raw)?).map_err(|_| DecodeError::Invalid("column length"))?;
    Reader(raw).take(len)
}

/// The decoder's account numbering (see [`Numbering`]).
struct Resolver<F> {
    accounts_before: AccountIndex,
    created: Vec<Address>,
    address_of: F,
}

impl<F: Fn(AccountIndex) -> Option<Address>> Resolver<F> {
    /// The address of reference `index`, which must be known already.
    fn known(&self, index: AccountIndex) -> Result<Address, DaError> {
        match index.checked_sub(self.accounts_before) {
            Some(i) => self
                .created
                .get(i as usize)
                .copied()
                .ok_or(DaError::UnknownAccount(index)),
            None => (self.address_of)(index).ok_or(DaError::UnknownAccount(index)),
        }
    }

    /// Reads a reference from `refs`; the next free index introduces an address read from
    /// `new_addresses`.
    fn read(&mut self, refs: &mut &[u8], new_addresses: &mut &[u8]) -> Result<Address, DaError> {
        let index = get_u32(refs)?;
        let next = self
            .accounts_before
            .checked_add(self.created.len() as u32)
            .ok_or(DaError::UnknownAccount(index))?;
        if index == next {
            let address = Reader(new_addresses).address()?;
            self.created.push(address);
            return Ok(address);
        }
        self.known(index)
    }
}

/// The streams of a payload being decoded.
struct Streams<'a> {
    kinds: &'a [u8],
    refs: &'a [u8],
    nonces: &'a [u8],
    amounts: &'a [u8],
    misc: &'a [u8],
    new_addresses: &'a [u8],
    evm: evm::EvmStreams<'a>,
}

/// Decompresses and decodes a batch. `address_of` gives the address of an account that
/// existed before the batch.
pub fn decode_batch(
    payload: &[u8],
    address_of: impl Fn(AccountIndex) -> Option<Address>,
) -> Result<DaBatch, DaError> {
    let raw = zstd::bulk::decompress(payload, MAX_DECOMPRESSED)
        .map_err(|e| DaError::Compression(e.to_string()))?;
    let mut buf: &[u8] = &raw;
    if Reader(&mut buf).u8()? != VERSION {
        return Err(DecodeError::Invalid("DA version").into());
    }
    let accounts_before = get_u32(&mut buf)?;
    let queue_before = get_u64(&mut buf)?;
    let first_block = get_u64(&mut buf)?;
    let count = get_u64(&mut buf)?;
    let mut shape = Vec::new();
    let mut time = 0u64;
    for _ in 0..count {
        time = time
            .checked_add(get_u64(&mut buf)?)
            .ok_or(DaError::NotConsecutive)?;
        let txs = get_u64(&mut buf)?;
        if txs > raw.len() as u64 {
            return Err(DecodeError::Invalid("transaction count").into());
        }
        shape.push((time, txs as usize));
    }
    let mut s = Streams {
        kinds: column(&mut buf)?,
        refs: column(&mut buf)?,
        nonces: column(&mut buf)?,
        amounts: column(&mut buf)?,
        misc: column(&mut buf)?,
        new_addresses: column(&mut buf)?,
        evm: evm::EvmStreams::read(&mut buf, column)?,
    };
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()).into());
    }
    let mut resolver = Resolver {
        accounts_before,
        created: Vec::new(),
        address_of,
    };
    let mut evm_memory = evm::Memory::default();
    let mut last_nonce: AddressMap<Nonce> = AddressMap::default();
    let mut queue = queue_before;
    let mut blocks = Vec::with_capacity(shape.len());
    for (i, (timestamp, txs)) in shape.into_iter().enumerate() {
        let fee_recipient = resolver.read(&mut s.refs, &mut s.new_addresses)?;
        let mut transactions = Vec::with_capacity(txs.min(s.kinds.len()));
        for _ in 0..txs {
            let kind = Reader(&mut s.kinds).u8()?;
            let tx = if kind & KIND_MASK == EVM_KIND && kind & !(KIND_MASK | EXPLICIT_NONCE) == 0 {
                let sender = resolver.read(&mut s.refs, &mut s.new_addresses)?;
                let nonce = read_nonce(kind, sender, &mut s.nonces, &mut last_nonce)?;
                let tx = evm::decode(
                    &mut s.evm,
                    &mut s.amounts,
                    &mut evm_memory,
                    sender,
                    nonce,
                    &|i| resolver.known(i),
                )?;
                Transaction::Evm(Box::new(tx))
            } else {
                decode_tx(kind, &mut s, &mut resolver, &mut last_nonce, &mut queue)?
            };
            transactions.push(tx);
        }
        blocks.push(DaBlock {
            number: first_block + i as u64,
            timestamp,
            fee_recipient,
            transactions,
        });
    }
    for (name, rest) in [
        ("kinds", s.kinds),
        ("refs", s.refs),
        ("nonces", s.nonces),
        ("amounts", s.amounts),
        ("misc", s.misc),
        ("addresses", s.new_addresses),
    ] {
        if !rest.is_empty() {
            return Err(DecodeError::Invalid(name).into());
        }
    }
    s.evm.finish()?;
    Ok(DaBatch {
        accounts_before,
        queue_before,
        blocks,
    })
}

/// A signed kind's nonce: explicit, or the one after its sender's previous in the batch.
fn read_nonce(
    kind: u8,
    from: Address,
    nonces: &mut &[u8],
    last_nonce: &mut AddressMap<Nonce>,
) -> Result<Nonce, DecodeError> {
    let nonce = if kind & EXPLICIT_NONCE != 0 {
        get_u64(nonces)?
    } else {
        last_nonce
            .get(&from)
            .map(|n| n.wrapping_add(1))
            .ok_or(DecodeError::Invalid("implied nonce without an earlier one"))?
    };
    last_nonce.insert(from, nonce);
    Ok(nonce)
}

/// Decodes one native transaction of kind byte `kind`.
fn decode_tx<F: Fn(AccountIndex) -> Option<Address>>(
    kind: u8,
    s: &mut Streams<'_>,
    resolver: &mut Resolver<F>,
    last_nonce: &mut AddressMap<Nonce>,
    queue: &mut u64,
) -> Result<Transaction, DaError> {
    let tag = kind & KIND_MASK;
    let first = resolver.read(&mut s.refs, &mut s.new_addresses)?;
    let token: TokenId = if kind & NONZERO_TOKEN != 0 {
        get_u32(&mut s.misc)?
    } else {
        0
    };
    let mut signed = |from: Address, s: &mut Streams<'_>| -> Result<(Nonce, Amount), DaError> {
        let nonce = read_nonce(kind, from, &mut s.nonces, last_nonce)?;
        let fee = if kind & NONZERO_FEE != 0 {
            get_amount(&mut s.amounts)?
        } else {
            0
        };
        Ok((nonce, fee))
    };
    let mut next_queue = || {
        *queue += 1;
        *queue - 1
    };
    Ok(match tag {
        1 => {
            let to = resolver.read(&mut s.refs, &mut s.new_addresses)?;
            let (nonce, fee) = signed(first, s)?;
            Transaction::Transfer(Transfer {
                from: first,
                to,
                token,
                amount: get_amount(&mut s.amounts)?,
                fee,
                nonce,
            })
        }
        2 => {
            let (nonce, fee) = signed(first, s)?;
            let amount = get_amount(&mut s.amounts)?;
            Transaction::Withdraw(Withdraw {
                from: first,
                l1_recipient: Reader(&mut s.misc).address()?,
                token,
                amount,
                fee,
                nonce,
            })
        }
        3 => {
            let hub = resolver.read(&mut s.refs, &mut s.new_addresses)?;
            let (nonce, fee) = signed(first, s)?;
            let amount = get_amount(&mut s.amounts)?;
            Transaction::ChannelOpen(ChannelOpen {
                from: first,
                hub,
                token,
                amount,
                fee,
                nonce,
            })
        }
        4 => {
            let (nonce, fee) = signed(first, s)?;
            let amount = get_amount(&mut s.amounts)?;
            let misc = &mut s.misc;
            let channel_id = Reader(misc).b256()?;
            let state = ChannelState::decode(misc)?;
            let wallet_signature =
                Reader(misc).bytes("walletSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            let hub_signature =
                Reader(misc).bytes("hubSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            Transaction::ChannelDeposit(ChannelDeposit {
                from: first,
                channel_id,
                amount,
                state,
                wallet_signature,
                hub_signature,
                fee,
                nonce,
            })
        }
        5..=7 => {
            let (nonce, fee) = signed(first, s)?;
            let misc = &mut s.misc;
            let state = ChannelState::decode(misc)?;
            let wallet_signature =
                Reader(misc).bytes("walletSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            let hub_signature =
                Reader(misc).bytes("hubSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            let settle = ChannelSettle {
                from: first,
                state,
                wallet_signature,
                hub_signature,
                fee,
                nonce,
            };
            match tag {
                5 => Transaction::ChannelClose(settle),
                6 => Transaction::ChannelRegister(settle),
                _ => Transaction::ChannelRefute(settle),
            }
        }
        8 => {
            let (nonce, fee) = signed(first, s)?;
            Transaction::ChannelConclude(ChannelConclude {
                from: first,
                channel_id: Reader(&mut s.misc).b256()?,
                fee,
                nonce,
            })
        }
        9 => {
            let (nonce, fee) = signed(first, s)?;
            Transaction::RevealSecret(RevealSecret {
                from: first,
                secret: Reader(&mut s.misc).b256()?,
                fee,
                nonce,
            })
        }
        10 => Transaction::Deposit(Deposit {
            queue_index: next_queue(),
            to: first,
            token,
            amount: get_amount(&mut s.amounts)?,
        }),
        11 => Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: next_queue(),
            account: first,
            token,
        }),
        _ => return Err(DecodeError::UnknownKind(kind).into()),
    })
}

/// The DA hash of a payload carried as calldata, which a batch is sealed with; a batch
/// posted in blobs commits to [`blob::Carrier::da_hash`] instead.
pub fn da_hash(payload: &[u8]) -> B256 {
    crate::primitives::keccak256(payload)
}

#[cfg(test)]
mod tests;
