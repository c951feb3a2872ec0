//! The wallet's durable state: one SQLite file with its channels, every state it or the hub
//! signed (with whichever signatures it holds) and the secrets of its invoices. Written
//! with the same group commit as the hub's store, so a wallet serving many payments at once
//! shares fsyncs too.

use std::{collections::HashMap, future::Future, path::Path, pin::Pin};

use sqlx::{AnyConnection, AnyPool, AssertSqlSafe};
use weft_protocol::{
    channel::ChannelState,
    codec::{Decode, Encode},
    eip712::Eip712,
    primitives::{Address, Amount, B256, TokenId},
    signature::Signature,
};
use weft_storage::{Backend, Columns, GroupWriter, StoreError, in_list_sql, insert_sql, open_pool};

/// File name of the wallet's database inside its directory.
pub(super) const WALLET_DB_FILE: &str = "wallet.db";

/// Page cache per SQLite connection, as the hub's store: SQLite's default. A wallet's writes
/// touch a page per channel and per payment, which no cache holds for long, while every
/// commit walks the whole cache.
const SQLITE_CACHE_KIB: u32 = 2 * 1024;

const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/channel-hub/wallet/0001_init.sql"),
        include_str!("../../../migrations/channel-hub/wallet/0001_init.sql"),
    ),
    (
        "0002_accepted_and_proofs.sql",
        include_str!("../../../migrations/channel-hub/wallet/0002_accepted_and_proofs.sql"),
        include_str!("../../../migrations/channel-hub/wallet/0002_accepted_and_proofs.sql"),
    ),
];

/// One change to the wallet's database.
#[derive(Debug, Clone)]
pub enum WalletWrite {
    /// A channel.
    Channel {
        /// Its id.
        id: B256,
        /// The wallet.
        wallet: Address,
        /// The hub.
        hub: Address,
        /// The token.
        token: TokenId,
    },
    /// A channel's status (`active`, `closing`, `disputed`, `closed`).
    Status {
        /// The channel.
        id: B256,
        /// The status.
        status: &'static str,
    },
    /// A state with the signatures the wallet holds (merged with earlier ones).
    State {
        /// The state.
        state: ChannelState,
        /// The wallet's signature.
        wallet_signature: Option<Signature>,
        /// The hub's signature.
        hub_signature: Option<Signature>,
        /// Agreed with one signature: a lock offer whose secret the wallet reveals, or a
        /// payment of the wallet's that the hub took.
        accepted: bool,
    },
    /// A proof of payment: the secret the hub revealed for one of the wallet's locks.
    Proof {
        /// `keccak256(secret)`.
        hashlock: B256,
        /// The secret.
        secret: B256,
    },
    /// An invoice's secret.
    Secret {
        /// `keccak256(secret)`.
        hashlock: B256,
        /// The secret.
        secret: B256,
        /// The amount expected.
        amount: Amount,
    },
}

/// A stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletState {
    /// The state.
    pub state: ChannelState,
    /// The wallet's signature.
    pub wallet_signature: Option<Signature>,
    /// The hub's signature.
    pub hub_signature: Option<Signature>,
    /// Agreed with one signature (a lock offer it fulfilled, a payment the hub took).
    pub accepted: bool,
}

impl WalletState {
    /// Whether both sides hold the state: both signed it, or one signed it and the other
    /// accepted it without signing (a lock to the wallet whose secret it revealed, a payment
    /// of the wallet's that the hub took).
    pub fn is_agreed(&self) -> bool {
        self.hub_signature.is_some() && self.wallet_signature.is_some() || self.accepted
    }
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletChannelRow {
    /// Its id.
    pub id: B256,
    /// The hub.
    pub hub: Address,
    /// The token.
    pub token: TokenId,
    /// Its status.
    pub status: String,
}

/// The wallet's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct WalletStore {
    pool: AnyPool,
    writer: GroupWriter<WalletWrite>,
}

impl WalletStore {
    /// Opens (creating) `<dir>/wallet.db`. One database may hold several wallets.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        let (pool, backend) =
            open_pool(None, dir, WALLET_DB_FILE, MIGRATIONS, SQLITE_CACHE_KIB).await?;
        let writer = GroupWriter::spawn(pool.clone(), backend, apply);
        Ok(Self { pool, writer })
    }

    /// Makes `writes` durable.
    pub async fn commit(&self, writes: Vec<WalletWrite>) -> Result<(), StoreError> {
        self.writer.commit(writes).await
    }

    /// `(transactions, commits)` of the group-commit writer so far.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats().get()
    }

    /// Every channel of `wallet`.
    pub async fn channels(&self, wallet: &Address) -> Result<Vec<WalletChannelRow>, StoreError> {
        sqlx::query("SELECT id, hub, token, status FROM channels WHERE wallet = $1")
            .bind(wallet.as_slice())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let c = Columns::new(r, "channels");
                Ok(WalletChannelRow {
                    id: c.b256("id")?,
                    hub: c.address("hub")?,
                    token: c.u32("token")?,
                    status: c.get("status")?,
                })
            })
            .collect()
    }

    /// Every state of a channel, by version.
    pub async fn states(&self, id: &B256) -> Result<Vec<WalletState>, StoreError> {
        sqlx::query(
            "SELECT encoded, wallet_signature, hub_signature, accepted FROM states \
             WHERE channel_id = $1 ORDER BY version",
        )
        .bind(id.as_slice())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let c = Columns::new(r, "states");
            let encoded: Vec<u8> = c.get("encoded")?;
            let sig = |col: &str| -> Result<Option<Signature>, StoreError> {
                let b: Option<Vec<u8>> = c.get(col)?;
                b.map(|b| Signature::from_bytes(&b).map_err(|e| c.corrupt(col, e)))
                    .transpose()
            };
            Ok(WalletState {
                state: ChannelState::from_bytes(&encoded).map_err(|e| c.corrupt("encoded", e))?,
                wallet_signature: sig("wallet_signature")?,
                hub_signature: sig("hub_signature")?,
                accepted: c.u64("accepted")? != 0,
            })
        })
        .collect()
    }

    /// The proofs of payment of `hashlocks` that the wallet holds: hashlock → secret.
    pub async fn proofs(&self, hashlocks: &[B256]) -> Result<HashMap<B256, B256>, StoreError> {
        let mut proofs = HashMap::new();
        for chunk in hashlocks.chunks(256) {
            let sql = in_list_sql(
                Backend::Sqlite,
                "SELECT hashlock, secret FROM proofs WHERE hashlock IN ",
                chunk.len(),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for h in chunk {
                q = q.bind(h.as_slice());
            }
            for r in q.fetch_all(&self.pool).await? {
                let c = Columns::new(&r, "proofs");
                proofs.insert(c.b256("hashlock")?, c.b256("secret")?);
            }
        }
        Ok(proofs)
    }

    /// Every invoice: `(hashlock, secret, amount)`.
    pub async fn secrets(&self) -> Result<Vec<(B256, B256, Amount)>, StoreError> {
        sqlx::query("SELECT hashlock, secret, amount FROM secrets")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let c = Columns::new(r, "secrets");
                Ok((c.b256("hashlock")?, c.b256("secret")?, c.u128("amount")?))
            })
            .collect()
    }

    /// Closes the database.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn apply<'c>(
    conn: &'c mut AnyConnection,
    backend: Backend,
    writes: &'c [&'c WalletWrite],
) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'c>> {
    Box::pin(apply_all(conn, backend, writes))
}

async fn apply_all(
    conn: &mut AnyConnection,
    backend: Backend,
    writes: &[&WalletWrite],
) -> Result<(), StoreError> {
    let mut states = Vec::new();
    let mut secrets = Vec::new();
    let mut proofs = Vec::new();
    for w in writes {
        match w {
            WalletWrite::Channel {
                id,
                wallet,
                hub,
                token,
            } => {
                sqlx::query(
                    "INSERT INTO channels (id, wallet, hub, token, status) \
                     VALUES ($1, $2, $3, $4, 'active') ON CONFLICT (id) DO NOTHING",
                )
                .bind(id.as_slice())
                .bind(wallet.as_slice())
                .bind(hub.as_slice())
                .bind(i64::from(*token))
                .execute(&mut *conn)
                .await?;
            }
            WalletWrite::Status { id, status } => {
                sqlx::query("UPDATE channels SET status = $1 WHERE id = $2")
                    .bind(*status)
                    .bind(id.as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
            WalletWrite::Secret {
                hashlock,
                secret,
                amount,
            } => secrets.push((hashlock, secret, amount.to_string())),
            WalletWrite::Proof { hashlock, secret } => proofs.push((hashlock, secret)),
            WalletWrite::State {
                state,
                wallet_signature,
                hub_signature,
                accepted,
            } => states.push((
                state.channel_id,
                i64::try_from(state.version).map_err(|_| StoreError::OutOfRange {
                    what: "version",
                    value: state.version,
                })?,
                state.struct_hash(),
                state.to_bytes(),
                wallet_signature.map(|s| s.to_bytes()),
                hub_signature.map(|s| s.to_bytes()),
                i64::from(*accepted),
            )),
        }
    }
    for chunk in secrets.chunks(256) {
        let sql = insert_sql(
            backend,
            "INSERT INTO secrets (hashlock, secret, amount) VALUES ",
            3,
            chunk.len(),
            " ON CONFLICT (hashlock) DO NOTHING",
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (hashlock, secret, amount) in chunk {
            q = q
                .bind(hashlock.as_slice())
                .bind(secret.as_slice())
                .bind(amount.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in proofs.chunks(256) {
        let sql = insert_sql(
            backend,
            "INSERT INTO proofs (hashlock, secret) VALUES ",
            2,
            chunk.len(),
            " ON CONFLICT (hashlock) DO NOTHING",
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (hashlock, secret) in chunk {
            q = q.bind(hashlock.as_slice()).bind(secret.as_slice());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in states.chunks(128) {
        let sql = insert_sql(
            backend,
            "INSERT INTO states (channel_id, version, state_hash, encoded, wallet_signature, \
             hub_signature, accepted) VALUES ",
            7,
            chunk.len(),
            " ON CONFLICT (channel_id, version, state_hash) DO UPDATE SET \
             wallet_signature = COALESCE(excluded.wallet_signature, states.wallet_signature), \
             hub_signature = COALESCE(excluded.hub_signature, states.hub_signature), \
             accepted = MAX(excluded.accepted, states.accepted)",
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, version, hash, encoded, ws, hs, accepted) in chunk {
            q = q
                .bind(id.as_slice())
                .bind(*version)
                .bind(hash.as_slice())
                .bind(encoded.as_slice())
                .bind(ws.as_ref().map(|s| s.as_slice()))
                .bind(hs.as_ref().map(|s| s.as_slice()))
                .bind(*accepted);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
