//! Conversions between protocol values and column values, shared by every table and both
//! backends: `u64` as a signed 64-bit integer (refused above `i64::MAX`), hashes and
//! addresses as byte strings, `u128` amounts as canonical decimal text.

use sqlx::{Any, Decode, Row, Type, any::AnyRow};
use weft_protocol::primitives::{Address, B256, serde_dec::parse_u128};

use super::StoreError;

/// `value` as a database integer.
pub fn to_i64(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { what, value })
}

/// Reads the columns of one row, turning every missing, mistyped or malformed value into
/// [`StoreError::Corrupt`] that names the table, the row and the column.
pub struct Columns<'r> {
    row: &'r AnyRow,
    table: &'static str,
    key: String,
}

impl std::fmt::Debug for Columns<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Columns")
            .field("table", &self.table)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<'r> Columns<'r> {
    /// A reader for `row` of `table`; name the row with [`Self::keyed`] once its key is read.
    pub fn new(row: &'r AnyRow, table: &'static str) -> Self {
        Self {
            row,
            table,
            key: String::from("(unknown key)"),
        }
    }

    /// Names the row in errors from now on.
    pub fn keyed(mut self, key: String) -> Self {
        self.key = key;
        self
    }

    /// A [`StoreError::Corrupt`] for this row.
    pub fn corrupt(&self, column: &str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            key: self.key.clone(),
            reason: format!("{column}: {reason}"),
        }
    }

    /// A column as its natural Rust type.
    pub fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: Decode<'r, Any> + Type<Any>,
    {
        self.row
            .try_get(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub fn u64(&self, column: &str) -> Result<u64, StoreError> {
        let v: i64 = self.get(column)?;
        u64::try_from(v).map_err(|_| self.corrupt(column, format!("negative value {v}")))
    }

    pub fn opt_u64(&self, column: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self.get(column)?;
        v.map(|v| u64::try_from(v).map_err(|_| self.corrupt(column, format!("negative value {v}"))))
            .transpose()
    }

    pub fn u32(&self, column: &str) -> Result<u32, StoreError> {
        let v = self.u64(column)?;
        u32::try_from(v).map_err(|_| self.corrupt(column, format!("{v} exceeds u32")))
    }

    pub fn b256(&self, column: &str) -> Result<B256, StoreError> {
        let bytes: Vec<u8> = self.get(column)?;
        B256::try_from(bytes.as_slice())
            .map_err(|_| self.corrupt(column, format!("{} bytes, expected 32", bytes.len())))
    }

    pub fn address(&self, column: &str) -> Result<Address, StoreError> {
        let bytes: Vec<u8> = self.get(column)?;
        self.address_from(column, &bytes)
    }

    pub fn opt_address(&self, column: &str) -> Result<Option<Address>, StoreError> {
        let bytes: Option<Vec<u8>> = self.get(column)?;
        bytes.map(|b| self.address_from(column, &b)).transpose()
    }

    fn address_from(&self, column: &str, bytes: &[u8]) -> Result<Address, StoreError> {
        Address::try_from(bytes)
            .map_err(|_| self.corrupt(column, format!("{} bytes, expected 20", bytes.len())))
    }

    pub fn u128(&self, column: &str) -> Result<u128, StoreError> {
        let text: String = self.get(column)?;
        self.u128_from(column, &text)
    }

    pub fn opt_u128(&self, column: &str) -> Result<Option<u128>, StoreError> {
        let text: Option<String> = self.get(column)?;
        text.map(|t| self.u128_from(column, &t)).transpose()
    }

    fn u128_from(&self, column: &str, text: &str) -> Result<u128, StoreError> {
        parse_u128(text).map_err(|e| self.corrupt(column, format!("{e}: {text:?}")))
    }
}
