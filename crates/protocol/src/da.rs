//! The data-availability codec: a batch of blocks as compact, compressed bytes from which
//! anyone can re-execute every transaction (and so rebuild the state) with L1 data alone.
//!
//! What it leaves out, because it can be derived: signatures (the prover checks them),
//! receipts and roots (re-execution yields them), block numbers (consecutive), queue
//! indexes (consecutive from the batch's queue start), addresses already indexed (an
//! account is referred to by its dense index), and most nonces (a sender's nonce is written
//! on its first transaction of the batch and implied after). Amounts are packed as a
//! decimal mantissa and exponent. The fields are laid out in columns (kinds, account
//! references, nonces, amounts, the rest, new addresses) and the whole is compressed with
//! zstd, so the skew of real traffic (a few hot accounts, round amounts) compresses well.
//!
//! Account references follow exactly the order in which the executor assigns indexes
//! (each block's fee recipient, then every transaction's addresses in field order), so a
//! reference equal to the next free index introduces a new address, read from the address
//! column.

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
/// reference, as the executor indexes it).
pub const VERSION: u8 = 2;
/// zstd level used for payloads (the highest standard level).
pub const COMPRESSION_LEVEL: i32 = 19;
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

/// An EVM transaction: its sender's reference, then its EIP-2718 bytes in `misc` (a `u32`
/// length first). Signature and all: the compact EVM encoding is still to come.
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
}

/// Encodes and compresses a batch; returns the payload and the number of accounts after
/// the batch. `index_of` gives the index of an address that existed before the batch (the
/// sequencer's state after the batch is fine: indexes at or past `accounts_before` are
/// treated as created by the batch).
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
    let mut created: AddressMap<AccountIndex> = AddressMap::default();
    let mut next = accounts_before;
    let mut last_nonce: AddressMap<Nonce> = AddressMap::default();
    let mut refer = |cols: &mut Columns, address: &Address| {
        let index = created
            .get(address)
            .copied()
            .or_else(|| index_of(address).filter(|&i| i < accounts_before));
        let index = index.unwrap_or_else(|| {
            created.insert(*address, next);
            cols.new_addresses.extend_from_slice(address.as_slice());
            next += 1;
            next - 1
        });
        put_varint(&mut cols.refs, index.into());
    };
    let mut previous_time = 0;
    for block in blocks {
        put_varint(
            &mut head,
            (block.timestamp - previous_time.min(block.timestamp)).into(),
        );
        previous_time = block.timestamp;
        put_varint(&mut head, block.transactions.len() as u128);
        refer(&mut cols, &block.fee_recipient);
        for tx in &block.transactions {
            for address in addresses(tx).iter().flatten() {
                refer(&mut cols, address);
            }
            encode_fields(&mut cols, tx, &mut last_nonce);
        }
    }
    let accounts_after = next;
    let mut raw = head;
    for col in [
        &cols.kinds,
        &cols.refs,
        &cols.nonces,
        &cols.amounts,
        &cols.misc,
        &cols.new_addresses,
    ] {
        put_varint(&mut raw, col.len() as u128);
        raw.extend_from_slice(col);
    }
    let payload =
        zstd::bulk::compress(&raw, COMPRESSION_LEVEL).expect("compressing to memory cannot fail");
    (payload, accounts_after)
}

/// Writes a transaction's kind byte and its non-address fields.
fn encode_fields(cols: &mut Columns, tx: &Transaction, last_nonce: &mut AddressMap<Nonce>) {
    if let Transaction::Evm(t) = tx {
        cols.kinds.push(EVM_KIND);
        let raw = t.encoded();
        Writer(&mut cols.misc).u32(&(raw.len() as u32));
        cols.misc.extend_from_slice(&raw);
        return;
    }
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
        let implied = last_nonce.get(&from).map(|n| n.wrapping_add(1));
        if implied != Some(nonce) {
            kind |= EXPLICIT_NONCE;
            put_varint(&mut cols.nonces, nonce.into());
        }
        last_nonce.insert(from, nonce);
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
    let (mut kinds, mut refs, mut nonces, mut amounts, mut misc, mut new_addresses) = (
        column(&mut buf)?,
        column(&mut buf)?,
        column(&mut buf)?,
        column(&mut buf)?,
        column(&mut buf)?,
        column(&mut buf)?,
    );
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()).into());
    }
    let mut created: Vec<Address> = Vec::new();
    let mut resolve = |refs: &mut &[u8], new_addresses: &mut &[u8]| -> Result<Address, DaError> {
        let index = get_u32(refs)?;
        let next = accounts_before
            .checked_add(created.len() as u32)
            .ok_or(DaError::UnknownAccount(index))?;
        if index == next {
            let address = Reader(new_addresses).address()?;
            created.push(address);
            return Ok(address);
        }
        if index > next {
            return Err(DaError::UnknownAccount(index));
        }
        match index.checked_sub(accounts_before) {
            Some(i) => Ok(created[i as usize]),
            None => address_of(index).ok_or(DaError::UnknownAccount(index)),
        }
    };
    let mut last_nonce: AddressMap<Nonce> = AddressMap::default();
    let mut queue = queue_before;
    let mut blocks = Vec::with_capacity(shape.len());
    for (i, (timestamp, txs)) in shape.into_iter().enumerate() {
        let fee_recipient = resolve(&mut refs, &mut new_addresses)?;
        let mut transactions = Vec::with_capacity(txs);
        for _ in 0..txs {
            let kind = Reader(&mut kinds).u8()?;
            let tx = decode_tx(
                kind,
                &mut refs,
                &mut new_addresses,
                &mut resolve,
                (&mut nonces, &mut amounts, &mut misc),
                &mut last_nonce,
                &mut queue,
            )?;
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
        ("kinds", kinds),
        ("refs", refs),
        ("nonces", nonces),
        ("amounts", amounts),
        ("misc", misc),
        ("addresses", new_addresses),
    ] {
        if !rest.is_empty() {
            return Err(DecodeError::Invalid(name).into());
        }
    }
    Ok(DaBatch {
        accounts_before,
        queue_before,
        blocks,
    })
}

type Streams<'s, 'a> = (&'s mut &'a [u8], &'s mut &'a [u8], &'s mut &'a [u8]);

#[allow(clippy::too_many_arguments)]
fn decode_tx<'a>(
    kind: u8,
    refs: &mut &'a [u8],
    new_addresses: &mut &'a [u8],
    resolve: &mut impl FnMut(&mut &'a [u8], &mut &'a [u8]) -> Result<Address, DaError>,
    (nonces, amounts, misc): Streams<'_, 'a>,
    last_nonce: &mut AddressMap<Nonce>,
    queue: &mut u64,
) -> Result<Transaction, DaError> {
    let tag = kind & KIND_MASK;
    let mut address = || resolve(refs, new_addresses);
    let first = address()?;
    let token: TokenId = if kind & NONZERO_TOKEN != 0 {
        get_u32(misc)?
    } else {
        0
    };
    let mut signed = |from: Address, amounts: &mut &'a [u8]| -> Result<(Nonce, Amount), DaError> {
        let nonce = if kind & EXPLICIT_NONCE != 0 {
            get_u64(nonces)?
        } else {
            last_nonce
                .get(&from)
                .map(|n| n.wrapping_add(1))
                .ok_or(DecodeError::Invalid("implied nonce without an earlier one"))?
        };
        last_nonce.insert(from, nonce);
        let fee = if kind & NONZERO_FEE != 0 {
            get_amount(amounts)?
        } else {
            0
        };
        Ok((nonce, fee))
    };
    let mut next_queue = || {
        *queue += 1;
        *queue - 1
    };
    if kind == EVM_KIND {
        let len = Reader(misc).u32()? as usize;
        if len > crate::evm::MAX_TX_SIZE {
            return Err(DecodeError::Invalid("EVM transaction length").into());
        }
        let raw = Reader(misc).take(len)?;
        let tx = crate::evm::EvmTransaction::decode(raw)
            .map_err(|_| DecodeError::Invalid("EVM transaction"))?;
        if tx.sender() != first {
            return Err(DecodeError::Invalid("EVM transaction sender").into());
        }
        return Ok(Transaction::Evm(Box::new(tx)));
    }
    Ok(match tag {
        1 => {
            let to = address()?;
            let (nonce, fee) = signed(first, amounts)?;
            Transaction::Transfer(Transfer {
                from: first,
                to,
                token,
                amount: get_amount(amounts)?,
                fee,
                nonce,
            })
        }
        2 => {
            let (nonce, fee) = signed(first, amounts)?;
            let amount = get_amount(amounts)?;
            Transaction::Withdraw(Withdraw {
                from: first,
                l1_recipient: Reader(misc).address()?,
                token,
                amount,
                fee,
                nonce,
            })
        }
        3 => {
            let hub = address()?;
            let (nonce, fee) = signed(first, amounts)?;
            let amount = get_amount(amounts)?;
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
            let (nonce, fee) = signed(first, amounts)?;
            let amount = get_amount(amounts)?;
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
            let (nonce, fee) = signed(first, amounts)?;
            let state = ChannelState::decode(misc)?;
            let wallet_signature =
                Reader(misc).bytes("walletSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            let hub_signature =
                Reader(misc).bytes("hubSignature", crate::codec::MAX_CO_SIGNATURE_LEN)?;
            let s = ChannelSettle {
                from: first,
                state,
                wallet_signature,
                hub_signature,
                fee,
                nonce,
            };
            match tag {
                5 => Transaction::ChannelClose(s),
                6 => Transaction::ChannelRegister(s),
                _ => Transaction::ChannelRefute(s),
            }
        }
        8 => {
            let (nonce, fee) = signed(first, amounts)?;
            Transaction::ChannelConclude(ChannelConclude {
                from: first,
                channel_id: Reader(misc).b256()?,
                fee,
                nonce,
            })
        }
        9 => {
            let (nonce, fee) = signed(first, amounts)?;
            Transaction::RevealSecret(RevealSecret {
                from: first,
                secret: Reader(misc).b256()?,
                fee,
                nonce,
            })
        }
        10 => Transaction::Deposit(Deposit {
            queue_index: next_queue(),
            to: first,
            token,
            amount: get_amount(amounts)?,
        }),
        11 => Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: next_queue(),
            account: first,
            token,
        }),
        _ => return Err(DecodeError::UnknownKind(kind).into()),
    })
}

/// The hash of a DA payload as committed on L1.
pub fn da_hash(payload: &[u8]) -> B256 {
    crate::primitives::keccak256(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        execution::{BlockExecutor, SequentialExecutor},
        state::State,
        testkit::{BlockGen, Workload, env, genesis},
    };
    use proptest::prelude::*;

    /// Executes `n` generated blocks on `state`, returning them as DA blocks.
    fn run_blocks(state: &mut State, seed: u64, n: u64, w: &Workload) -> Vec<DaBlock> {
        let mut blocks_gen = BlockGen::new(state, seed);
        (1..=n)
            .map(|number| {
                let txs = blocks_gen.block(w);
                let env = env(number);
                SequentialExecutor.execute_block(state, &env, &txs).unwrap();
                DaBlock {
                    number,
                    timestamp: env.timestamp,
                    fee_recipient: env.fee_recipient,
                    transactions: txs.into_iter().map(|t| t.transaction).collect(),
                }
            })
            .collect()
    }

    #[test]
    fn a_batch_round_trips_and_re_executes_to_the_same_root() {
        let before = genesis(500, 1_000_000);
        let mut after = before.clone();
        let w = Workload {
            odd_p: 0.3,
            new_receiver_p: 0.1,
            bad_nonce_p: 0.05,
            hot_sender_p: 0.3,
            hot_senders: 3,
            ..Workload::transfers(300)
        };
        let blocks = run_blocks(&mut after, 11, 4, &w);
        let (payload, accounts_after) = encode_batch(
            &blocks,
            before.account_count(),
            before.queue_position(),
            |a| after.index_of(a),
        );
        assert_eq!(accounts_after, after.account_count());
        let decoded = decode_batch(&payload, |i| before.account(i).map(|a| a.address)).unwrap();
        assert_eq!(decoded.blocks, blocks);
        let kinds: std::collections::HashSet<&str> = blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .map(|t| t.kind())
            .collect();
        for kind in [
            "channelOpen",
            "channelDeposit",
            "channelClose",
            "channelRegister",
            "channelRefute",
            "channelConclude",
        ] {
            assert!(kinds.contains(kind), "the batch has a {kind}");
        }
        assert!(!after.channels().is_empty(), "channels were opened");
        assert_eq!(decoded.accounts_before, before.account_count());

        // Re-executed on a chain with another dispute window, the same blocks (they register
        // channels) give another state: the window is part of what a verifier must share.
        let mut other_chain = before.clone();
        let mut rebuilt = before;
        for b in &decoded.blocks {
            let txs: Vec<_> = b
                .transactions
                .iter()
                .map(|t| t.clone().assume_verified(&crate::testkit::test_domain()))
                .collect();
            let env = crate::execution::BlockEnv {
                number: b.number,
                timestamp: b.timestamp,
                fee_recipient: b.fee_recipient,
                domain: crate::testkit::test_domain(),
                dispute_window: crate::channel::DEFAULT_DISPUTE_WINDOW,
                gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
                base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
            };
            SequentialExecutor
                .execute_block(&mut rebuilt, &env, &txs)
                .unwrap();
            let env = crate::execution::BlockEnv {
                dispute_window: crate::channel::DEFAULT_DISPUTE_WINDOW + 1,
                gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
                base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
                ..env
            };
            SequentialExecutor
                .execute_block(&mut other_chain, &env, &txs)
                .unwrap();
        }
        assert_eq!(rebuilt.state_root(), after.state_root());
        assert_ne!(other_chain.state_root(), after.state_root());
    }

    #[test]
    fn amounts_pack_round_numbers_small_and_keep_every_value() {
        for amount in [
            0,
            1,
            10,
            1_000_000_000_000_000_000,
            123_456_789,
            u128::MAX,
            u128::MAX - 1,
            10u128.pow(38),
        ] {
            let mut buf = Vec::new();
            put_amount(&mut buf, amount);
            let mut r: &[u8] = &buf;
            assert_eq!(get_amount(&mut r).unwrap(), amount);
            assert!(r.is_empty());
        }
        let mut one_eth = Vec::new();
        put_amount(&mut one_eth, 1_000_000_000_000_000_000);
        assert_eq!(one_eth.len(), 1);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_batch(&bytes, |_| None);
            let compressed = zstd::bulk::compress(&bytes, 1).unwrap();
            let _ = decode_batch(&compressed, |i| Some(Address::repeat_byte(i as u8)));
        }

        #[test]
        fn varints_round_trip(v in any::<u128>()) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r: &[u8] = &buf;
            prop_assert_eq!(get_varint(&mut r).unwrap(), v);
        }
    }
}
