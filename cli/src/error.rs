//! Why a command fails: [`CliError`], printed as one line, and its exit code.

use std::fmt;

/// Exit codes (documented in `docs/cli.md`).
pub(crate) mod exit {
    /// Bad input: a flag, an amount, an address (clap's own usage errors exit 2 too).
    pub(crate) const USAGE: i32 = 2;
    /// The sequencer, the hub or the L1 contract refused the request, or an L2 transaction
    /// failed in its block.
    pub(crate) const REFUSED: i32 = 3;
    /// A service could not be reached, or did not answer in time.
    pub(crate) const UNREACHABLE: i32 = 4;
    /// The key: no such keystore, a wrong password, a keystore that already exists.
    pub(crate) const KEY: i32 = 5;
    /// Waited longer than `--timeout` for a status.
    pub(crate) const TIMEOUT: i32 = 6;
    /// Anything else (a local file, the wallet's database).
    pub(crate) const OTHER: i32 = 1;
}

/// A failed command: a stable code (the API's own where a service refused), a message, and
/// the process's exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    /// Stable snake_case code: the API's (`fee_too_low`, `nonce_too_low`, …) or the CLI's
    /// (`usage`, `unreachable`, `key`, `timeout`, `l1_reverted`, …).
    pub(crate) code: String,
    /// One line for humans.
    pub(crate) message: String,
    /// The exit code.
    pub(crate) exit: i32,
}

impl CliError {
    pub(crate) fn new(code: &str, message: impl Into<String>, exit: i32) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            exit,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message, exit::USAGE)
    }

    pub(crate) fn key(message: impl Into<String>) -> Self {
        Self::new("key", message, exit::KEY)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new("error", message, exit::OTHER)
    }

    pub(crate) fn unreachable(message: impl Into<String>) -> Self {
        Self::new("unreachable", message, exit::UNREACHABLE)
    }

    pub(crate) fn timeout(message: impl Into<String>) -> Self {
        Self::new("timeout", message, exit::TIMEOUT)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for CliError {}

/// A command's result.
pub(crate) type CliResult<T> = Result<T, CliError>;

impl From<weft_api::ClientError> for CliError {
    fn from(e: weft_api::ClientError) -> Self {
        use weft_api::ClientError as E;
        match e {
            E::Rejected { code, message } => Self::new(&code, message, exit::REFUSED),
            E::Failed { hash, reason } => Self::new(
                &reason,
                format!("transaction {hash} failed in its block"),
                exit::REFUSED,
            ),
            E::Timeout(hash) => Self::timeout(format!("transaction {hash} not executed in time")),
            E::Http(e) => Self::unreachable(format!("sequencer: {}", without_url_noise(&e))),
            E::Unexpected(m) => Self::other(format!("sequencer: {m}")),
        }
    }
}

impl From<weft_wallet::ClientError> for CliError {
    fn from(e: weft_wallet::ClientError) -> Self {
        use weft_wallet::ClientError as E;
        match e {
            E::Hub(body) => Self::new(&body.code, body.message, exit::REFUSED),
            E::Rollup(e) => e.into(),
            E::Http(e) => Self::unreachable(format!("hub: {}", without_url_noise(&e))),
            E::UnknownChannel(id) => Self::new(
                "unknown_channel",
                format!("channel {id} is not in this account's wallet"),
                exit::USAGE,
            ),
            E::Transition(e) => Self::new("not_possible", e.to_string(), exit::REFUSED),
            other => Self::other(other.to_string()),
        }
    }
}

impl From<alloy::contract::Error> for CliError {
    fn from(e: alloy::contract::Error) -> Self {
        use weft_l1::Rollup::RollupErrors;
        if let Some(revert) = e.as_decoded_interface_error::<RollupErrors>() {
            return Self::new(
                "l1_reverted",
                format!("the Rollup contract refused: {revert:?}"),
                exit::REFUSED,
            );
        }
        l1_error(&e.to_string())
    }
}

impl From<alloy::transports::TransportError> for CliError {
    fn from(e: alloy::transports::TransportError) -> Self {
        l1_error(&e.to_string())
    }
}

impl From<alloy::providers::PendingTransactionError> for CliError {
    fn from(e: alloy::providers::PendingTransactionError) -> Self {
        l1_error(&e.to_string())
    }
}

/// An L1 failure: a revert (refused) or the node (unreachable).
fn l1_error(message: &str) -> CliError {
    if message.contains("revert") {
        CliError::new("l1_reverted", format!("L1: {message}"), exit::REFUSED)
    } else {
        CliError::unreachable(format!("L1: {message}"))
    }
}

/// reqwest's message without its `for url (…)` tail repeated in every line.
fn without_url_noise(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    if let Some(url) = e.url() {
        message = message.replace(&format!(" for url ({url})"), "");
        message = format!("{message} ({url})");
    }
    message
}
