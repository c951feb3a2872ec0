//! EVM transactions in the DA payload, without their signatures.
//!
//! The sender is the transaction's account reference and its nonce is coded as the native
//! kinds' (in the parent module). Everything else goes to the EVM columns:
//!
//! | column      | per transaction                                                        |
//! |-------------|------------------------------------------------------------------------|
//! | `flags`     | a `u16` (little-endian) of the bits below                              |
//! | `gas`       | the gas limit (explicit mode), the chain id (when it changes), varints |
//! | `fees`      | explicit fees: the fee cap (gas price), then an EIP-1559 tip, packed   |
//! | `callees`   | the callee as an address operand                                       |
//! | `selectors` | the selector's dictionary code (new: code = size, 4 bytes follow), the number of ABI words |
//! | `word_tags` | per ABI word: 0..=32 significant bytes, 33 address operand, 34 amount  |
//! | `words`     | the significant bytes of stripped words                                |
//! | `operands`  | address operands of ABI words                                          |
//! | `data`      | raw input (varint length, bytes), values above 2^128, access lists     |
//! | `addresses` | each address the operand dictionary learns, 20 bytes                   |
//!
//! Values and packed words go to the shared `amounts` column (decimal mantissa and
//! exponent). An address operand is a varint: `2·i` for account reference `i` (an address
//! the batch's account numbering knows already) or `2·d + 1` for entry `d` of the batch's
//! dictionary of other addresses (`d` equal to its size adds the next address of
//! `addresses`). The dictionary never numbers accounts: the executor does not index a
//! callee, so the account numbering stays the executor's.
//!
//! Flags: bits 0–1 the type (legacy, EIP-2930, EIP-1559), bit 2 a creation, bits 3–4 the
//! gas limit (21,000, as the previous transaction to the same callee, explicit), bits 5–6
//! the fees (as the sender's previous EVM transaction in the batch, as the batch's
//! previous, explicit), bit 7 an explicit chain id (otherwise the previous one's), bits
//! 8–9 the value (zero, packed, 32 bytes), bits 10–11 the input (empty, ABI-shaped: a
//! selector and 32-byte words, raw), bit 12 a non-empty access list.

use alloy_consensus::{Transaction as _, TxEip1559, TxEip2930, TxLegacy};
use alloy_eips::{
    Typed2718,
    eip2930::{AccessList, AccessListItem},
};
use alloy_primitives::{
    TxKind,
    map::{AddressMap, HashMap},
};

use super::{DaError, get_amount, get_u64, get_varint, put_amount, put_varint};
use crate::{
    codec::Reader,
    error::DecodeError,
    evm::{EvmTransaction, MAX_TX_SIZE, UnsignedEvm},
    primitives::{AccountIndex, Address, B256, Bytes, U256},
};

const TYPE_MASK: u16 = 0b11;
const CREATE: u16 = 1 << 2;
const GAS_SHIFT: u16 = 3;
const FEES_SHIFT: u16 = 5;
const CHAIN_EXPLICIT: u16 = 1 << 7;
const VALUE_SHIFT: u16 = 8;
const INPUT_SHIFT: u16 = 10;
const ACCESS_LIST: u16 = 1 << 12;
const UNUSED_BITS: u16 = !((1 << 13) - 1);

const GAS_TRANSFER: u16 = 0;
const GAS_AS_CALLEE: u16 = 1;
const GAS_EXPLICIT: u16 = 2;
const FEES_AS_SENDER: u16 = 0;
const FEES_AS_PREVIOUS: u16 = 1;
const FEES_EXPLICIT: u16 = 2;
const VALUE_ZERO: u16 = 0;
const VALUE_PACKED: u16 = 1;
const VALUE_WORD: u16 = 2;
const INPUT_EMPTY: u16 = 0;
const INPUT_ABI: u16 = 1;
const INPUT_RAW: u16 = 2;

const WORD_OPERAND: u8 = 33;
const WORD_AMOUNT: u8 = 34;

/// Gas limit of a plain transfer.
const TRANSFER_GAS: u64 = 21_000;

/// The EVM column buffers.
#[derive(Default)]
pub(super) struct EvmColumns {
    flags: Vec<u8>,
    gas: Vec<u8>,
    fees: Vec<u8>,
    callees: Vec<u8>,
    selectors: Vec<u8>,
    word_tags: Vec<u8>,
    words: Vec<u8>,
    operands: Vec<u8>,
    data: Vec<u8>,
    addresses: Vec<u8>,
}

impl EvmColumns {
    /// The columns in payload order.
    pub(super) fn all(&self) -> [&Vec<u8>; 10] {
        [
            &self.flags,
            &self.gas,
            &self.fees,
            &self.callees,
            &self.selectors,
            &self.word_tags,
            &self.words,
            &self.operands,
            &self.data,
            &self.addresses,
        ]
    }
}

/// The EVM column streams being decoded.
pub(super) struct EvmStreams<'a> {
    flags: &'a [u8],
    gas: &'a [u8],
    fees: &'a [u8],
    callees: &'a [u8],
    selectors: &'a [u8],
    word_tags: &'a [u8],
    words: &'a [u8],
    operands: &'a [u8],
    data: &'a [u8],
    addresses: &'a [u8],
}

impl<'a> EvmStreams<'a> {
    /// Reads the columns, in [`EvmColumns::all`]'s order, with `column`.
    pub(super) fn read(
        buf: &mut &'a [u8],
        column: fn(&mut &'a [u8]) -> Result<&'a [u8], DecodeError>,
    ) -> Result<Self, DecodeError> {
        Ok(Self {
            flags: column(buf)?,
            gas: column(buf)?,
            fees: column(buf)?,
            callees: column(buf)?,
            selectors: column(buf)?,
            word_tags: column(buf)?,
            words: column(buf)?,
            operands: column(buf)?,
            data: column(buf)?,
            addresses: column(buf)?,
        })
    }

    /// Requires every column to be consumed.
    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        let all = [
            self.flags,
            self.gas,
            self.fees,
            self.callees,
            self.selectors,
            self.word_tags,
            self.words,
            self.operands,
            self.data,
            self.addresses,
        ];
        if all.iter().any(|c| !c.is_empty()) {
            return Err(DecodeError::Invalid("EVM columns"));
        }
        Ok(())
    }
}

/// `(fee cap or gas price, tip or 0)`.
type Fees = (u128, u128);

/// What the encoder and the decoder remember across a batch's EVM transactions.
#[derive(Default)]
pub(super) struct Memory {
    dictionary: Vec<Address>,
    dictionary_index: AddressMap<u64>,
    selectors: Vec<[u8; 4]>,
    selector_index: HashMap<[u8; 4], u64>,
    sender_fees: AddressMap<Fees>,
    last_fees: Option<Fees>,
    callee_gas: HashMap<Option<Address>, u64>,
    chain_id: Option<u64>,
}

/// Writes `tx`'s fields but its sender and nonce. `known` gives an address's account
/// reference, if the batch's numbering has one.
pub(super) fn encode(
    cols: &mut EvmColumns,
    amounts: &mut Vec<u8>,
    memory: &mut Memory,
    tx: &EvmTransaction,
    known: &dyn Fn(&Address) -> Option<AccountIndex>,
) {
    let envelope = tx.envelope();
    let ty = envelope.ty();
    let mut flags: u16 = match ty {
        0 => 0,
        1 => 1,
        _ => 2,
    };
    let to = tx.to();
    match to {
        Some(to) => put_operand(&mut cols.callees, &mut cols.addresses, memory, known, &to),
        None => flags |= CREATE,
    }

    let gas_limit = tx.gas_limit();
    let gas_mode = if gas_limit == TRANSFER_GAS {
        GAS_TRANSFER
    } else if memory.callee_gas.get(&to) == Some(&gas_limit) {
        GAS_AS_CALLEE
    } else {
        put_varint(&mut cols.gas, gas_limit.into());
        GAS_EXPLICIT
    };
    memory.callee_gas.insert(to, gas_limit);
    flags |= gas_mode << GAS_SHIFT;

    let fees: Fees = (
        tx.max_fee_per_gas(),
        tx.max_priority_fee_per_gas().unwrap_or(0),
    );
    let sender = tx.sender();
    let fee_mode = if memory.sender_fees.get(&sender) == Some(&fees) {
        FEES_AS_SENDER
    } else if memory.last_fees == Some(fees) {
        FEES_AS_PREVIOUS
    } else {
        put_amount(&mut cols.fees, fees.0);
        if ty == 2 {
            put_amount(&mut cols.fees, fees.1);
        }
        FEES_EXPLICIT
    };
    memory.sender_fees.insert(sender, fees);
    memory.last_fees = Some(fees);
    flags |= fee_mode << FEES_SHIFT;

    let chain_id = envelope
        .chain_id()
        .expect("an admitted transaction has a chain id");
    if memory.chain_id != Some(chain_id) {
        flags |= CHAIN_EXPLICIT;
        put_varint(&mut cols.gas, chain_id.into());
        memory.chain_id = Some(chain_id);
    }

    let value = tx.value();
    let value_mode = if value.is_zero() {
        VALUE_ZERO
    } else if let Ok(v) = u128::try_from(value) {
        put_amount(amounts, v);
        VALUE_PACKED
    } else {
        cols.data.extend_from_slice(&value.to_be_bytes::<32>());
        VALUE_WORD
    };
    flags |= value_mode << VALUE_SHIFT;

    let input = tx.input();
    let input_mode = if input.is_empty() {
        INPUT_EMPTY
    } else if input.len() >= 4 && (input.len() - 4).is_multiple_of(32) {
        encode_abi(cols, amounts, memory, known, input);
        INPUT_ABI
    } else {
        put_varint(&mut cols.data, input.len() as u128);
        cols.data.extend_from_slice(input);
        INPUT_RAW
    };
    flags |= input_mode << INPUT_SHIFT;

    if let Some(list) = envelope.access_list().filter(|l| !l.is_empty()) {
        flags |= ACCESS_LIST;
        put_varint(&mut cols.data, list.len() as u128);
        for item in list.iter() {
            cols.data.extend_from_slice(item.address.as_slice());
            put_varint(&mut cols.data, item.storage_keys.len() as u128);
            for key in &item.storage_keys {
                cols.data.extend_from_slice(key.as_slice());
            }
        }
    }
    cols.flags.extend_from_slice(&flags.to_le_bytes());
}

/// An address operand (module docs).
fn put_operand(
    out: &mut Vec<u8>,
    addresses: &mut Vec<u8>,
    memory: &mut Memory,
    known: &dyn Fn(&Address) -> Option<AccountIndex>,
    address: &Address,
) {
    if let Some(i) = known(address) {
        put_varint(out, u128::from(i) * 2);
        return;
    }
    let d = *memory.dictionary_index.entry(*address).or_insert_with(|| {
        memory.dictionary.push(*address);
        addresses.extend_from_slice(address.as_slice());
        memory.dictionary.len() as u64 - 1
    });
    put_varint(out, u128::from(d) * 2 + 1);
}

fn get_operand(
    s: &mut &[u8],
    addresses: &mut &[u8],
    memory: &mut Memory,
    account: &dyn Fn(AccountIndex) -> Result<Address, DaError>,
) -> Result<Address, DaError> {
    let code = get_varint(s)?;
    if code.is_multiple_of(2) {
        let index = AccountIndex::try_from(code / 2)
            .map_err(|_| DecodeError::Invalid("account reference exceeds 32 bits"))?;
        return account(index);
    }
    let d = code / 2;
    let size = memory.dictionary.len() as u128;
    if d == size {
        let address = Reader(addresses).address()?;
        memory.dictionary.push(address);
        Ok(address)
    } else {
        memory
            .dictionary
            .get(d as usize)
            .copied()
            .ok_or_else(|| DecodeError::Invalid("address dictionary entry").into())
    }
}

/// A selector and 32-byte words: each word an address operand, a packed amount, or its
/// significant bytes.
fn encode_abi(
    cols: &mut EvmColumns,
    amounts: &mut Vec<u8>,
    memory: &mut Memory,
    known: &dyn Fn(&Address) -> Option<AccountIndex>,
    input: &[u8],
) {
    let selector: [u8; 4] = input[..4].try_into().expect("4 bytes");
    let size = memory.selectors.len() as u64;
    let code = *memory.selector_index.entry(selector).or_insert(size);
    put_varint(&mut cols.selectors, code.into());
    if code == size {
        memory.selectors.push(selector);
        cols.selectors.extend_from_slice(&selector);
    }
    let words = input[4..].chunks_exact(32);
    put_varint(&mut cols.selectors, words.len() as u128);
    for word in words {
        let zeros = word.iter().take_while(|&&b| b == 0).count();
        if zeros == 12 {
            let address = Address::from_slice(&word[12..]);
            cols.word_tags.push(WORD_OPERAND);
            put_operand(
                &mut cols.operands,
                &mut cols.addresses,
                memory,
                known,
                &address,
            );
            continue;
        }
        if zeros >= 16 {
            let v = u128::from_be_bytes(word[16..].try_into().expect("16 bytes"));
            let mut packed = Vec::new();
            put_amount(&mut packed, v);
            if packed.len() < 32 - zeros {
                cols.word_tags.push(WORD_AMOUNT);
                amounts.extend_from_slice(&packed);
                continue;
            }
        }
        cols.word_tags.push((32 - zeros) as u8);
        cols.words.extend_from_slice(&word[zeros..]);
    }
}

fn decode_abi(
    s: &mut EvmStreams<'_>,
    amounts: &mut &[u8],
    memory: &mut Memory,
    account: &dyn Fn(AccountIndex) -> Result<Address, DaError>,
) -> Result<Bytes, DaError> {
    let code = get_varint(&mut s.selectors)?;
    let size = memory.selectors.len() as u128;
    let selector = if code == size {
        let selector: [u8; 4] = Reader(&mut s.selectors).array()?;
        memory.selectors.push(selector);
        selector
    } else {
        *memory
            .selectors
            .get(code as usize)
            .filter(|_| code < size)
            .ok_or(DecodeError::Invalid("selector dictionary entry"))?
    };
    let words = get_varint(&mut s.selectors)?;
    if words > ((MAX_TX_SIZE - 4) / 32) as u128 || words > s.word_tags.len() as u128 {
        return Err(DecodeError::Invalid("ABI word count").into());
    }
    let mut input = Vec::with_capacity(4 + 32 * words as usize);
    input.extend_from_slice(&selector);
    for _ in 0..words {
        let mut word = [0u8; 32];
        match Reader(&mut s.word_tags).u8()? {
            WORD_OPERAND => {
                let address = get_operand(&mut s.operands, &mut s.addresses, memory, account)?;
                word[12..].copy_from_slice(address.as_slice());
            }
            WORD_AMOUNT => word[16..].copy_from_slice(&get_amount(amounts)?.to_be_bytes()),
            n @ 0..=32 => {
                let n = usize::from(n);
                word[32 - n..].copy_from_slice(Reader(&mut s.words).take(n)?);
            }
            _ => return Err(DecodeError::Invalid("ABI word tag").into()),
        }
        input.extend_from_slice(&word);
    }
    Ok(input.into())
}

/// Reads the fields written by [`encode`] of a transaction from `sender` with `nonce`.
/// `account` resolves an account reference the batch knows.
pub(super) fn decode(
    s: &mut EvmStreams<'_>,
    amounts: &mut &[u8],
    memory: &mut Memory,
    sender: Address,
    nonce: u64,
    account: &dyn Fn(AccountIndex) -> Result<Address, DaError>,
) -> Result<EvmTransaction, DaError> {
    let flags = u16::from_le_bytes(Reader(&mut s.flags).array()?);
    if flags & UNUSED_BITS != 0 {
        return Err(DecodeError::Invalid("EVM flags").into());
    }
    let field = |shift: u16| (flags >> shift) & 0b11;
    let to = if flags & CREATE != 0 {
        None
    } else {
        Some(get_operand(
            &mut s.callees,
            &mut s.addresses,
            memory,
            account,
        )?)
    };

    let gas_limit = match field(GAS_SHIFT) {
        GAS_TRANSFER => TRANSFER_GAS,
        GAS_AS_CALLEE => *memory
            .callee_gas
            .get(&to)
            .ok_or(DecodeError::Invalid("no earlier gas limit for the callee"))?,
        GAS_EXPLICIT => get_u64(&mut s.gas)?,
        _ => return Err(DecodeError::Invalid("EVM gas mode").into()),
    };
    memory.callee_gas.insert(to, gas_limit);

    let ty = flags & TYPE_MASK;
    let fees = match field(FEES_SHIFT) {
        FEES_AS_SENDER => *memory
            .sender_fees
            .get(&sender)
            .ok_or(DecodeError::Invalid("no earlier fees for the sender"))?,
        FEES_AS_PREVIOUS => memory
            .last_fees
            .ok_or(DecodeError::Invalid("no earlier fees"))?,
        FEES_EXPLICIT => {
            let cap = get_amount(&mut s.fees)?;
            let tip = if ty == 2 { get_amount(&mut s.fees)? } else { 0 };
            (cap, tip)
        }
        _ => return Err(DecodeError::Invalid("EVM fee mode").into()),
    };
    memory.sender_fees.insert(sender, fees);
    memory.last_fees = Some(fees);

    if flags & CHAIN_EXPLICIT != 0 {
        memory.chain_id = Some(get_u64(&mut s.gas)?);
    }
    let chain_id = memory.chain_id.ok_or(DecodeError::Invalid("no chain id"))?;

    let value = match field(VALUE_SHIFT) {
        VALUE_ZERO => U256::ZERO,
        VALUE_PACKED => U256::from(get_amount(amounts)?),
        VALUE_WORD => U256::from_be_bytes(Reader(&mut s.data).array::<32>()?),
        _ => return Err(DecodeError::Invalid("EVM value mode").into()),
    };

    let input = match field(INPUT_SHIFT) {
        INPUT_EMPTY => Bytes::new(),
        INPUT_ABI => decode_abi(s, amounts, memory, account)?,
        INPUT_RAW => {
            let len = get_varint(&mut s.data)?;
            if len > MAX_TX_SIZE as u128 {
                return Err(DecodeError::Invalid("EVM input length").into());
            }
            Bytes::copy_from_slice(Reader(&mut s.data).take(len as usize)?)
        }
        _ => return Err(DecodeError::Invalid("EVM input mode").into()),
    };

    let access_list = if flags & ACCESS_LIST != 0 {
        if ty == 0 {
            return Err(DecodeError::Invalid("a legacy transaction has no access list").into());
        }
        decode_access_list(&mut s.data)?
    } else {
        AccessList::default()
    };

    let kind = to.map_or(TxKind::Create, TxKind::Call);
    let fields = match ty {
        0 => UnsignedEvm::Legacy(TxLegacy {
            chain_id: Some(chain_id),
            nonce,
            gas_price: fees.0,
            gas_limit,
            to: kind,
            value,
            input,
        }),
        1 => UnsignedEvm::Eip2930(TxEip2930 {
            chain_id,
            nonce,
            gas_price: fees.0,
            gas_limit,
            to: kind,
            value,
            access_list,
            input,
        }),
        2 => UnsignedEvm::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fees.0,
            max_priority_fee_per_gas: fees.1,
            to: kind,
            value,
            access_list,
            input,
        }),
        _ => return Err(DecodeError::Invalid("EVM transaction type").into()),
    };
    let tx = EvmTransaction::from_unsigned(fields, sender)
        .map_err(|_| DecodeError::Invalid("EVM transaction"))?;
    if tx.encoded().len() > MAX_TX_SIZE {
        return Err(DecodeError::Invalid("EVM transaction length").into());
    }
    Ok(tx)
}

fn decode_access_list(data: &mut &[u8]) -> Result<AccessList, DecodeError> {
    let items = get_varint(data)?;
    // Each item takes at least 21 bytes: the bound keeps allocation to what was read.
    if items > (data.len() / 21) as u128 {
        return Err(DecodeError::Invalid("access list length"));
    }
    let mut list = Vec::with_capacity(items as usize);
    let mut size = 0usize;
    for _ in 0..items {
        let address = Reader(data).address()?;
        let keys = get_varint(data)?;
        if keys > (data.len() / 32) as u128 {
            return Err(DecodeError::Invalid("access list keys"));
        }
        let storage_keys = (0..keys)
            .map(|_| Reader(data).b256())
            .collect::<Result<Vec<B256>, _>>()?;
        size += 20 + 32 * storage_keys.len();
        if size > MAX_TX_SIZE {
            return Err(DecodeError::Invalid("access list size"));
        }
        list.push(AccessListItem {
            address,
            storage_keys,
        });
    }
    Ok(AccessList(list))
}
