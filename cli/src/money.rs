//! Amounts and tokens as users type them.
//!
//! An amount is a decimal number of whole tokens (`1.5`: 18 decimals, as ETH and the
//! devnet's test token have), optionally with a unit: `1.5eth`/`1.5ether`, `2gwei`, or
//! `1000wei` for base units. A token is `eth` (token 0), an L2 token id, or the L1 address of
//! an ERC-20 (its L2 id is the one the Rollup contract assigned on its first deposit).

use std::fmt;

use alloy::primitives::Address;

use crate::error::{CliError, CliResult};

/// Decimals of every amount typed without a unit.
pub(crate) const DECIMALS: u32 = 18;

/// Parses an amount into base units.
pub(crate) fn parse_amount(text: &str) -> CliResult<u128> {
    let lower = text.trim().to_ascii_lowercase();
    let (number, decimals) = if let Some(n) = lower.strip_suffix("gwei") {
        (n, 9)
    } else if let Some(n) = lower.strip_suffix("wei") {
        (n, 0)
    } else if let Some(n) = lower
        .strip_suffix("ether")
        .or_else(|| lower.strip_suffix("eth"))
    {
        (n, DECIMALS)
    } else {
        (lower.as_str(), DECIMALS)
    };
    let bad = || {
        CliError::usage(format!(
            "amount {text:?}: a decimal number of tokens (1.5), or with a unit: 1.5eth, 2gwei, 1000wei"
        ))
    };
    let number = number.trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if fraction.len() > decimals as usize {
        return Err(CliError::usage(format!(
            "amount {text:?} has more than {decimals} decimals"
        )));
    }
    let scale = 10u128.pow(decimals);
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction_units: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u128>().map_err(|_| bad())? * 10u128.pow(decimals - fraction.len() as u32)
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction_units))
        .ok_or_else(|| CliError::usage(format!("amount {text:?} is too large")))
}

/// An amount in base units shown as whole tokens (`1.5`, `0.000000000000000001`).
pub(crate) struct Tokens(pub u128);

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u128.pow(DECIMALS);
        let (whole, fraction) = (self.0 / scale, self.0 % scale);
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let fraction = format!("{fraction:018}");
        write!(f, "{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// A token as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenArg {
    /// An L2 token id (`eth` is 0).
    Id(u32),
    /// An ERC-20 on L1.
    L1(Address),
}

impl std::str::FromStr for TokenArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("eth") {
            return Ok(Self::Id(0));
        }
        if let Ok(id) = s.parse() {
            return Ok(Self::Id(id));
        }
        s.parse()
            .map(Self::L1)
            .map_err(|_| format!("{s:?}: `eth`, an L2 token id, or an ERC-20's L1 address"))
    }
}

/// A token's name in messages: `ETH`, `token 1`.
pub(crate) fn token_name(id: u32) -> String {
    if id == 0 {
        "ETH".into()
    } else {
        format!("token {id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_in_base_units() {
        assert_eq!(parse_amount("1").unwrap(), 10u128.pow(18));
        assert_eq!(parse_amount("1.5").unwrap(), 15 * 10u128.pow(17));
        assert_eq!(parse_amount(".5eth").unwrap(), 5 * 10u128.pow(17));
        assert_eq!(parse_amount("2gwei").unwrap(), 2_000_000_000);
        assert_eq!(parse_amount("1000wei").unwrap(), 1000);
        assert_eq!(parse_amount("0.000000000000000001").unwrap(), 1);
        for bad in [
            "",
            ".",
            "1.2.3",
            "-1",
            "1e18",
            "0.0000000000000000001",
            "1.5wei",
            "abc",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_amount("999999999999999999999999").is_err(),
            "overflow"
        );
    }

    #[test]
    fn amounts_print_as_whole_tokens() {
        assert_eq!(Tokens(15 * 10u128.pow(17)).to_string(), "1.5");
        assert_eq!(Tokens(10u128.pow(18) * 3).to_string(), "3");
        assert_eq!(Tokens(1).to_string(), "0.000000000000000001");
        assert_eq!(Tokens(0).to_string(), "0");
    }

    #[test]
    fn tokens_parse_as_ids_or_l1_addresses() {
        assert_eq!("ETH".parse::<TokenArg>().unwrap(), TokenArg::Id(0));
        assert_eq!("3".parse::<TokenArg>().unwrap(), TokenArg::Id(3));
        assert!(matches!(
            "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0".parse::<TokenArg>(),
            Ok(TokenArg::L1(_))
        ));
        assert!("dai".parse::<TokenArg>().is_err());
    }
}
