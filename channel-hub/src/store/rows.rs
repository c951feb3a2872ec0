//! How a group of [`Write`]s reaches the tables: rows of one kind go in one multi-row
//! statement, kinds in dependency order (channels, states, signatures, payments, statuses,
//! rollup transactions, counters), so a group of hundreds of channel updates costs a
//! handful of statements.

use std::{collections::HashMap, future::Future, pin::Pin};

use sqlx::{AnyConnection, AssertSqlSafe, any::AnyArguments, query::Query};
use weft_channel::now_secs;
use weft_protocol::{primitives::B256, signature::Signature};
use weft_storage::{Backend, StoreError, insert_sql, to_i64};

use super::{PaymentRow, PaymentStatus, Write, encode_state};

type AnyQuery<'q> = Query<'q, sqlx::Any, AnyArguments>;

/// Rows per multi-row statement (parameters stay far below both backends' limits).
pub(crate) const CHUNK: usize = 256;

/// The [`weft_storage::Apply`] of the hub's store.
pub(super) fn apply<'c>(
    conn: &'c mut AnyConnection,
    backend: Backend,
    writes: &'c [&'c Write],
) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'c>> {
    Box::pin(apply_all(conn, backend, writes))
}

async fn apply_all(
    conn: &mut AnyConnection,
    backend: Backend,
    writes: &[&Write],
) -> Result<(), StoreError> {
    let now = to_i64("time", now_secs())?;

    // A signature written with its state goes into the state's row (one row, not two).
    let mut with_state: HashMap<(B256, u64), Signature> = writes
        .iter()
        .filter_map(|w| match w {
            Write::WalletSignature {
                channel_id,
                version,
                signature,
            } => Some(((*channel_id, *version), *signature)),
            _ => None,
        })
        .collect();
    with_state.retain(|key, _| {
        writes.iter().any(|w| {
            matches!(w, Write::State { state, .. } if (state.channel_id, state.version) == *key)
        })
    });
    let mut channels = Vec::new();
    let mut states = Vec::new();
    let mut signatures = Vec::new();
    let mut payments = Vec::new();
    let mut others = Vec::new();
    for w in writes {
        match w {
            Write::Channel {
                id,
                wallet,
                token,
                registered_at,
            } => channels.push((
                id.as_slice(),
                wallet.as_slice(),
                i64::from(*token),
                to_i64("registered_at", *registered_at)?,
            )),
            Write::State {
                state,
                purpose,
                payment,
            } => {
                let (encoded, hash) = encode_state(state);
                states.push((
                    state.channel_id,
                    to_i64("version", state.version)?,
                    hash,
                    encoded,
                    *purpose,
                    *payment,
                    with_state
                        .get(&(state.channel_id, state.version))
                        .map(Signature::to_bytes),
                ));
            }
            Write::WalletSignature {
                channel_id,
                version,
                signature,
            } => {
                if !with_state.contains_key(&(*channel_id, *version)) {
                    signatures.push((
                        *channel_id,
                        to_i64("version", *version)?,
                        signature.to_bytes(),
                    ));
                }
            }
            Write::Payment(p) => payments.push(p),
            other => others.push(*other),
        }
    }

    for chunk in channels.chunks(CHUNK) {
        let sql = insert_sql(
            backend,
            "INSERT INTO channels (id, wallet, token, status, registered_at) VALUES ",
            5,
            chunk.len(),
            "",
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, wallet, token, at) in chunk {
            q = q
                .bind(*id)
                .bind(*wallet)
                .bind(*token)
                .bind("active")
                .bind(*at);
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in states.chunks(CHUNK) {
        let sql = insert_sql(
            backend,
            "INSERT INTO states (channel_id, version, state_hash, encoded, purpose, payment, \
             wallet_signature) VALUES ",
            7,
            chunk.len(),
            "",
        );
        let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
        for (id, version, hash, encoded, purpose, payment, signature) in chunk {
            q = q
                .bind(id.as_slice())
                .bind(*version)
                .bind(hash.as_slice())
                .bind(encoded.as_slice())
                .bind(*purpose)
                .bind(payment.as_ref().map(|p| p.as_slice()))
                .bind(signature.as_ref().map(|s| s.as_slice()));
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in signatures.chunks(CHUNK) {
        let sql = insert_sql(
            backend,
            "INSERT INTO wallet_signatures (channel_id, version, signature) VALUES ",
            3,
            chunk.len(),
            "",
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, version, sig) in chunk {
            q = q.bind(id.as_slice()).bind(*version).bind(sig.as_slice());
        }
        q.execute(&mut *conn).await?;
    }
    // A new payment is a plain insert, so a hashlock used before fails the commit (the
    // primary key); a later status of the payment is an upsert.
    let (new, updated): (Vec<&PaymentRow>, Vec<&PaymentRow>) = payments
        .into_iter()
        .partition(|p| p.status == PaymentStatus::Offered);
    let upsert = " ON CONFLICT (hashlock) DO UPDATE SET status = excluded.status, \
                  secret = COALESCE(excluded.secret, payments.secret), \
                  updated_at = excluded.updated_at";
    for (rows, tail) in [(new, ""), (updated, upsert)] {
        for chunk in rows.chunks(CHUNK) {
            let sql = insert_sql(
                backend,
                "INSERT INTO payments (hashlock, payer_channel, payee_channel, amount, status, \
                 secret, created_at, updated_at) VALUES ",
                8,
                chunk.len(),
                tail,
            );
            let amounts: Vec<String> = chunk.iter().map(|p| p.amount.to_string()).collect();
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (p, amount) in chunk.iter().zip(&amounts) {
                q = q
                    .bind(p.hashlock.as_slice())
                    .bind(p.payer_channel.as_slice())
                    .bind(p.payee_channel.as_slice())
                    .bind(amount.as_str())
                    .bind(p.status.as_str())
                    .bind(p.secret.as_ref().map(|s| s.as_slice()))
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *conn).await?;
        }
    }
    for w in others {
        match w {
            Write::ChannelStatus { id, status, reason } => {
                sqlx::query("UPDATE channels SET status = $1, status_reason = $2 WHERE id = $3")
                    .bind(*status)
                    .bind(reason.as_deref())
                    .bind(id.as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
            Write::RollupTransaction(t) => {
                sqlx::query(
                    "INSERT INTO rollup_transactions \
                     (hash, nonce, kind, channel_id, encoded, signature, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
                )
                .bind(t.hash.as_slice())
                .bind(to_i64("nonce", t.nonce)?)
                .bind(t.kind)
                .bind(t.channel_id.as_ref().map(|c| c.as_slice()))
                .bind(t.encoded.as_slice())
                .bind(t.signature.to_bytes().as_slice())
                .execute(&mut *conn)
                .await?;
            }
            Write::RollupTransactionStatus { hash, status } => {
                sqlx::query("UPDATE rollup_transactions SET status = $1 WHERE hash = $2")
                    .bind(*status)
                    .bind(hash.as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
            Write::Meta { key, value } => {
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(*key)
                .bind(to_i64("meta value", *value)?)
                .execute(&mut *conn)
                .await?;
            }
            Write::Channel { .. }
            | Write::State { .. }
            | Write::WalletSignature { .. }
            | Write::Payment(_) => unreachable!("sorted above"),
        }
    }
    Ok(())
}
