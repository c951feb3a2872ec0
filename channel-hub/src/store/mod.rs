//! The hub's durable state through sqlx: SQLite in the data directory by default,
//! PostgreSQL when `DATABASE_URL` names one, opened with the services' shared conventions
//! ([`weft_storage::open_pool`], its column helpers). Schema and invariants:
//! `migrations/channel-hub/README.md`.
//!
//! Every change goes through [`HubStore::commit`], which group-commits it with the other
//! updates in flight ([`weft_storage::GroupWriter`]; how a group reaches the tables is
//! `rows.rs`) and returns once it is durable; the hub signs or acknowledges a state only
//! after that.

mod rows;

#[cfg(test)]
mod tests;

use std::path::Path;

use sqlx::{AnyPool, AssertSqlSafe};
use weft_protocol::{
    channel::ChannelState,
    codec::{Decode, Encode},
    eip712::Eip712,
    primitives::{Address, Amount, B256, TokenId},
    signature::Signature,
};
use weft_storage::{Backend, Columns, EmbeddedMigration, GroupWriter, in_list_sql, open_pool};

pub use weft_storage::StoreError;

/// File name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "channel-hub.db";

/// Page cache per SQLite connection: SQLite's default. The hub's writes touch a page per
/// channel and per payment, which no cache holds for long, while every commit walks the
/// whole cache (`pcache1Truncate`): 16 MiB made each payment cost 5% more CPU than 2 MiB
/// (hub bench, 48 pairs, medians of 3 alternating runs).
pub const SQLITE_CACHE_KIB: u32 = 2 * 1024;

/// The migrations, embedded (see [`EmbeddedMigration`]). Append only.
const MIGRATIONS: &[EmbeddedMigration] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/channel-hub/sqlite/0001_init.sql"),
        include_str!("../../../migrations/channel-hub/postgres/0001_init.sql"),
    ),
    (
        "0002_signature_in_state_row.sql",
        include_str!("../../../migrations/channel-hub/sqlite/0002_signature_in_state_row.sql"),
        include_str!("../../../migrations/channel-hub/postgres/0002_signature_in_state_row.sql"),
    ),
];

/// The wallet's signature of a state row: in the row itself for a state the wallet sent
/// signed, in `wallet_signatures` for one it countersigned later (`w` joined).
const WALLET_SIGNATURE: &str = "COALESCE(s.wallet_signature, w.signature) AS signature";

/// One change to the hub's database.
#[derive(Debug, Clone)]
pub enum Write {
    /// A newly registered channel.
    Channel {
        /// Its id.
        id: B256,
        /// The wallet.
        wallet: Address,
        /// Its token.
        token: TokenId,
        /// Unix seconds.
        registered_at: u64,
    },
    /// A channel's new status (`active`, `halted`, `disputed`, `closed`).
    ChannelStatus {
        /// The channel.
        id: B256,
        /// The status.
        status: &'static str,
        /// Why, for humans.
        reason: Option<String>,
    },
    /// A state the hub is about to sign.
    State {
        /// The state.
        state: ChannelState,
        /// What it does.
        purpose: &'static str,
        /// The routed payment it belongs to.
        payment: Option<B256>,
    },
    /// The wallet's signature of a stored state.
    WalletSignature {
        /// The channel.
        channel_id: B256,
        /// The state's version.
        version: u64,
        /// The signature.
        signature: Signature,
    },
    /// A routed payment, inserted or moved to a new status.
    Payment(PaymentRow),
    /// A rollup transaction of the hub, stored before it is sent.
    RollupTransaction(RollupTxRow),
    /// A rollup transaction's new status.
    RollupTransactionStatus {
        /// Its hash.
        hash: B256,
        /// `executed` or `failed`.
        status: &'static str,
    },
    /// A named counter.
    Meta {
        /// The name.
        key: &'static str,
        /// The value.
        value: u64,
    },
}

/// A routed payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    /// Its hashlock (the payment's id).
    pub hashlock: B256,
    /// The payer's channel.
    pub payer_channel: B256,
    /// The payee's channel.
    pub payee_channel: B256,
    /// The amount.
    pub amount: Amount,
    /// `offered`, `fulfilled`, `refused`, `settled` or `refunded`.
    pub status: PaymentStatus,
    /// The secret, once revealed.
    pub secret: Option<B256>,
}

/// Where a routed payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// The payer's lock is co-signed and the hub's lock is offered to the payee.
    Offered,
    /// The payee revealed the secret and its channel is settled; the payer's is not yet.
    Fulfilled,
    /// The payee refused; its lock is removed, the payer's is not yet.
    Refused,
    /// Both channels settled: the payment is done.
    Settled,
    /// Both locks removed: the payment failed and nothing moved.
    Refunded,
}

impl PaymentStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::Fulfilled => "fulfilled",
            Self::Refused => "refused",
            Self::Settled => "settled",
            Self::Refunded => "refunded",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "offered" => Self::Offered,
            "fulfilled" => Self::Fulfilled,
            "refused" => Self::Refused,
            "settled" => Self::Settled,
            "refunded" => Self::Refunded,
            _ => return None,
        })
    }

    /// Whether the payment is over (settled or refunded).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Settled | Self::Refunded)
    }
}

/// One of the hub's rollup transactions as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupTxRow {
    /// Canonical hash.
    pub hash: B256,
    /// The hub's nonce.
    pub nonce: u64,
    /// `Transaction::kind()`.
    pub kind: &'static str,
    /// The channel it concerns.
    pub channel_id: Option<B256>,
    /// Codec encoding of the transaction.
    pub encoded: Vec<u8>,
    /// The hub's signature.
    pub signature: Signature,
}

/// A channel as loaded at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    /// Its id.
    pub id: B256,
    /// The wallet.
    pub wallet: Address,
    /// Its token.
    pub token: TokenId,
    /// `active`, `halted`, `disputed` or `closed`.
    pub status: String,
    /// The latest state both sides hold and the wallet's signature of it (none for a lock
    /// the wallet accepted by revealing its secret).
    pub latest: (ChannelState, Option<Signature>),
    /// A newer state the hub signed, awaiting the wallet: `(state, purpose, payment)`.
    pub offer: Option<(ChannelState, String, Option<B256>)>,
}

/// A stored state with the wallet's signature if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// The state.
    pub state: ChannelState,
    /// What it did.
    pub purpose: String,
    /// The wallet's signature.
    pub wallet_signature: Option<Signature>,
}

/// The hub's database: a pool and its group-commit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct HubStore {
    pool: AnyPool,
    backend: Backend,
    writer: GroupWriter<Write>,
}

impl HubStore {
    /// Opens the database (SQLite `<data_dir>/channel-hub.db` unless `database_url` names
    /// one) and applies the migrations it lacks.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        let (pool, backend) = open_pool(
            database_url,
            data_dir,
            DEFAULT_SQLITE_FILE,
            MIGRATIONS,
            SQLITE_CACHE_KIB,
        )
        .await?;
        let writer = GroupWriter::spawn(pool.clone(), backend, rows::apply);
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Makes `writes` durable (one database transaction, shared with concurrent commits).
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.writer.commit(writes).await
    }

    /// `(transactions, commits)` of the group-commit writer so far.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats().get()
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Every channel with its latest state and pending offer.
    ///
    /// A state is the latest once the wallet signed it, or, for a lock the hub offered,
    /// once the wallet revealed the lock's secret (its payment is `fulfilled` or
    /// `settled`). The hub signs a new state only on top of its highest one and keeps at
    /// most one offer outstanding, so the latest is one of the two newest states.
    pub async fn channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let rows = sqlx::query("SELECT id, wallet, token, status FROM channels ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut channels = Vec::with_capacity(rows.len());
        for row in &rows {
            let c = Columns::new(row, "channels");
            let id = c.b256("id")?;
            let c = c.keyed(id.to_string());
            let newest = sqlx::query(AssertSqlSafe(format!(
                "SELECT s.version, s.encoded, s.purpose, s.payment, {WALLET_SIGNATURE}, \
                 p.status AS payment_status FROM states s \
                 LEFT JOIN wallet_signatures w \
                   ON w.channel_id = s.channel_id AND w.version = s.version \
                 LEFT JOIN payments p ON p.hashlock = s.payment \
                 WHERE s.channel_id = $1 ORDER BY s.version DESC LIMIT 2"
            )))
            .bind(id.as_slice())
            .fetch_all(&self.pool)
            .await?;
            let mut latest = None;
            let mut offer = None;
            for row in &newest {
                let state = stored_state(row)?;
                let r = Columns::new(row, "states");
                let payment: Option<Vec<u8>> = r.get("payment")?;
                let payment = payment.and_then(|b| B256::try_from(b.as_slice()).ok());
                let payment_status: Option<String> = r.get("payment_status")?;
                let revealed = state.purpose == "lock"
                    && matches!(payment_status.as_deref(), Some("fulfilled" | "settled"));
                if state.wallet_signature.is_some() || revealed {
                    latest = Some((state.state, state.wallet_signature));
                    break;
                }
                if offer.is_some() {
                    break;
                }
                offer = Some((state.state, state.purpose, payment));
            }
            let latest =
                latest.ok_or_else(|| c.corrupt("states", "neither newest state is agreed"))?;
            channels.push(StoredChannel {
                id,
                wallet: c.address("wallet")?,
                token: c.u32("token")?,
                status: c.get("status")?,
                latest,
                offer,
            });
        }
        Ok(channels)
    }

    /// The payments of `hashlocks` (those of the locks in the channels' states, at start).
    pub async fn payments(&self, hashlocks: &[B256]) -> Result<Vec<PaymentRow>, StoreError> {
        let mut payments = Vec::with_capacity(hashlocks.len());
        for chunk in hashlocks.chunks(rows::CHUNK) {
            let sql = in_list_sql(
                self.backend,
                "SELECT hashlock, payer_channel, payee_channel, amount, status, secret \
                 FROM payments WHERE hashlock IN ",
                chunk.len(),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for h in chunk {
                q = q.bind(h.as_slice());
            }
            for row in q.fetch_all(&self.pool).await? {
                payments.push(payment_row(&row)?);
            }
        }
        Ok(payments)
    }

    /// The state of `version` the hub signed on channel `id`, if any.
    pub async fn state(&self, id: &B256, version: u64) -> Result<Option<StoredState>, StoreError> {
        let Ok(version) = i64::try_from(version) else {
            return Ok(None);
        };
        sqlx::query(AssertSqlSafe(format!(
            "SELECT s.version, s.encoded, s.purpose, {WALLET_SIGNATURE} FROM states s \
             LEFT JOIN wallet_signatures w ON w.channel_id = s.channel_id AND w.version = s.version \
             WHERE s.channel_id = $1 AND s.version = $2"
        )))
        .bind(id.as_slice())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| stored_state(&r))
        .transpose()
    }

    /// Every state the hub signed on channel `id`, in version order.
    pub async fn states(&self, id: &B256) -> Result<Vec<StoredState>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT s.version, s.encoded, s.purpose, {WALLET_SIGNATURE} FROM states s \
             LEFT JOIN wallet_signatures w ON w.channel_id = s.channel_id AND w.version = s.version \
             WHERE s.channel_id = $1 ORDER BY s.version"
        )))
        .bind(id.as_slice())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(stored_state)
        .collect()
    }

    /// A payment by its hashlock.
    pub async fn payment(&self, hashlock: &B256) -> Result<Option<PaymentRow>, StoreError> {
        sqlx::query(
            "SELECT hashlock, payer_channel, payee_channel, amount, status, secret \
             FROM payments WHERE hashlock = $1",
        )
        .bind(hashlock.as_slice())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| payment_row(&r))
        .transpose()
    }

    /// How many payments have each status: `(status, count)`.
    pub async fn payment_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        sqlx::query("SELECT status, COUNT(*) AS n FROM payments GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let c = Columns::new(r, "payments");
                Ok((c.get("status")?, c.u64("n")?))
            })
            .collect()
    }

    /// A named counter.
    pub async fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
        sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Columns::new(&r, "meta").u64("value"))
            .transpose()
    }

    /// The hub's rollup transactions not yet seen executed, by nonce.
    pub async fn pending_rollup_transactions(
        &self,
    ) -> Result<Vec<(B256, Vec<u8>, Signature)>, StoreError> {
        sqlx::query(
            "SELECT hash, encoded, signature FROM rollup_transactions \
             WHERE status = 'pending' ORDER BY nonce",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let c = Columns::new(r, "rollup_transactions");
            let sig: Vec<u8> = c.get("signature")?;
            Ok((
                c.b256("hash")?,
                c.get("encoded")?,
                Signature::from_bytes(&sig).map_err(|e| c.corrupt("signature", e))?,
            ))
        })
        .collect()
    }
}

fn stored_state(row: &sqlx::any::AnyRow) -> Result<StoredState, StoreError> {
    let c = Columns::new(row, "states");
    let encoded: Vec<u8> = c.get("encoded")?;
    let state = ChannelState::from_bytes(&encoded).map_err(|e| c.corrupt("encoded", e))?;
    let sig: Option<Vec<u8>> = c.get("signature")?;
    let wallet_signature = sig
        .map(|s| Signature::from_bytes(&s).map_err(|e| c.corrupt("signature", e)))
        .transpose()?;
    Ok(StoredState {
        state,
        purpose: c.get("purpose")?,
        wallet_signature,
    })
}

fn payment_row(row: &sqlx::any::AnyRow) -> Result<PaymentRow, StoreError> {
    let c = Columns::new(row, "payments");
    let hashlock = c.b256("hashlock")?;
    let c = c.keyed(hashlock.to_string());
    let status: String = c.get("status")?;
    let secret: Option<Vec<u8>> = c.get("secret")?;
    Ok(PaymentRow {
        hashlock,
        payer_channel: c.b256("payer_channel")?,
        payee_channel: c.b256("payee_channel")?,
        amount: c.u128("amount")?,
        status: PaymentStatus::parse(&status)
            .ok_or_else(|| c.corrupt("status", format!("unknown status {status:?}")))?,
        secret: secret
            .map(|s| B256::try_from(s.as_slice()).map_err(|_| c.corrupt("secret", "not 32 bytes")))
            .transpose()?,
    })
}

/// The encoding and hash of a state, as stored.
pub(crate) fn encode_state(state: &ChannelState) -> (Vec<u8>, B256) {
    (state.to_bytes(), state.struct_hash())
}
