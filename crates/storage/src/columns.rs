//! Conversions between values and columns, shared by every table and both backends: `u64`
//! as a signed 64-bit integer (refused above `i64::MAX`), hashes and addresses as byte
//! strings, `u128` amounts as canonical decimal text (no sign, no leading zero).

use alloy_primitives::{Address, B256};
use sqlx::{Any, Decode, Row, Type, any::AnyRow};

use crate::StoreError;

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

    /// A non-negative integer column.
    pub fn u64(&self, column: &str) -> Result<u64, StoreError> {
        let v: i64 = self.get(column)?;
        u64::try_from(v).map_err(|_| self.corrupt(column, format!("negative value {v}")))
    }

    /// A nullable non-negative integer column.
    pub fn opt_u64(&self, column: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self.get(column)?;
        v.map(|v| u64::try_from(v).map_err(|_| self.corrupt(column, format!("negative value {v}"))))
            .transpose()
    }

    /// An integer column that fits a `u32`.
    pub fn u32(&self, column: &str) -> Result<u32, StoreError> {
        let v = self.u64(column)?;
        u32::try_from(v).map_err(|_| self.corrupt(column, format!("{v} exceeds u32")))
    }

    /// A 32-byte hash column.
    pub fn b256(&self, column: &str) -> Result<B256, StoreError> {
        let bytes: Vec<u8> = self.get(column)?;
        B256::try_from(bytes.as_slice())
            .map_err(|_| self.corrupt(column, format!("{} bytes, expected 32", bytes.len())))
    }

    /// A 20-byte address column.
    pub fn address(&self, column: &str) -> Result<Address, StoreError> {
        let bytes: Vec<u8> = self.get(column)?;
        self.address_from(column, &bytes)
    }

    /// A nullable 20-byte address column.
    pub fn opt_address(&self, column: &str) -> Result<Option<Address>, StoreError> {
        let bytes: Option<Vec<u8>> = self.get(column)?;
        bytes.map(|b| self.address_from(column, &b)).transpose()
    }

    fn address_from(&self, column: &str, bytes: &[u8]) -> Result<Address, StoreError> {
        Address::try_from(bytes)
            .map_err(|_| self.corrupt(column, format!("{} bytes, expected 20", bytes.len())))
    }

    /// A `u128` amount column (canonical decimal text).
    pub fn u128(&self, column: &str) -> Result<u128, StoreError> {
        let text: String = self.get(column)?;
        self.u128_from(column, &text)
    }

    /// A nullable `u128` amount column (canonical decimal text).
    pub fn opt_u128(&self, column: &str) -> Result<Option<u128>, StoreError> {
        let text: Option<String> = self.get(column)?;
        text.map(|t| self.u128_from(column, &t)).transpose()
    }

    fn u128_from(&self, column: &str, text: &str) -> Result<u128, StoreError> {
        parse_decimal_u128(text)
            .ok_or_else(|| self.corrupt(column, format!("not a canonical decimal u128: {text:?}")))
    }
}

/// `text` as written by `u128::to_string` and nothing else: digits only, no sign, no
/// leading zero, at most `u128::MAX`.
fn parse_decimal_u128(text: &str) -> Option<u128> {
    text.parse::<u128>().ok().filter(|v| v.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_only_in_canonical_decimal() {
        assert_eq!(parse_decimal_u128("0"), Some(0));
        assert_eq!(parse_decimal_u128(&u128::MAX.to_string()), Some(u128::MAX));
        for bad in [
            "340282366920938463463374607431768211456",
            "01",
            "-1",
            "+1",
            "1e3",
            " 1",
            "",
        ] {
            assert_eq!(parse_decimal_u128(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers_above_i64_max_are_refused_by_name() {
        assert_eq!(to_i64("nonce", 7).unwrap(), 7);
        let err = to_i64("nonce", u64::MAX).unwrap_err();
        assert!(matches!(err, StoreError::OutOfRange { what: "nonce", .. }));
    }
}
