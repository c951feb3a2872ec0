//! The explorer: server-rendered pages (askama templates in `sequencer/templates/`) under
//! `/explorer`: home (heights, latest blocks and batches), block, transaction (status
//! timeline with its L1 transactions, the decoded native kind or Ethereum call and logs),
//! address (balances, nonce, code, channels, recent transactions), batch, and a search box.
//! Every page works without JavaScript; the home page's `live.js` adds new blocks and batch
//! changes from the live feed (`/v1/ws`).

use std::sync::Arc;

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;
use weft_protocol::{
    primitives::{Address, B256},
    transaction::Transaction,
};

use crate::{
    node::Node,
    store::{BatchStatus, StoredBatch, StoredTransaction},
};

/// Blocks on the home page.
const HOME_BLOCKS: u64 = 20;
/// Batches on the home page.
const HOME_BATCHES: u64 = 10;
/// Transactions on an address page.
const ADDRESS_TXS: u32 = 50;
/// Channels on an address page.
const ADDRESS_CHANNELS: usize = 50;
/// Bytes of an EVM call's input shown.
const INPUT_SHOWN: usize = 1024;

/// The explorer's routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/explorer") }))
        .route("/explorer", get(home))
        .route("/explorer/block/{id}", get(block))
        .route("/explorer/tx/{hash}", get(transaction))
        .route("/explorer/address/{address}", get(address))
        .route("/explorer/batch/{index}", get(batch))
        .route("/explorer/search", get(search))
        .route("/explorer/live.js", get(live_js))
}

type Page = Result<Response, Failure>;

/// A page that could not be shown: the message page to answer with.
struct Failure(Box<Response>);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn render(template: &impl Template) -> Page {
    match template.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => Err(internal(e)),
    }
}

fn internal(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "explorer page failed");
    failure_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Error",
        "The page could not be built.",
    )
}

fn failure_page(status: StatusCode, title: &str, text: &str) -> Failure {
    Failure(Box::new(message(status, title, text)))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let html = MessagePage {
        title,
        message: text,
    }
    .render()
    .unwrap_or_else(|_| text.to_string());
    (status, Html(html)).into_response()
}

fn not_found(text: &str) -> Failure {
    failure_page(StatusCode::NOT_FOUND, "Not found", text)
}

// ---- home -------------------------------------------------------------------------------

struct BlockRow {
    number: u64,
    hash: B256,
    tx_count: u64,
    time: String,
}

struct BatchRow {
    index: u64,
    status: &'static str,
    from_block: u64,
    to_block: u64,
    da_bytes: usize,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chain_id: u64,
    executed: u64,
    committed: u64,
    proven: u64,
    finalized: u64,
    blocks: Vec<BlockRow>,
    batches: Vec<BatchRow>,
}

async fn home(State(node): State<Arc<Node>>) -> Page {
    let store = &node.store;
    let head = node.head().number;
    let at = |statuses: &'static [BatchStatus]| store.last_block_at_status(statuses);
    use BatchStatus::{Committed, Finalized, Proven};
    let committed = at(&[Committed, Proven, Finalized])
        .await
        .map_err(internal)?;
    let proven = at(&[Proven, Finalized]).await.map_err(internal)?;
    let finalized = at(&[Finalized]).await.map_err(internal)?;
    let mut blocks = Vec::new();
    for number in (head.saturating_sub(HOME_BLOCKS - 1)..=head)
        .rev()
        .filter(|&n| n > 0)
    {
        if let Some((header, hash)) = store.header_by_number(number).await.map_err(internal)? {
            blocks.push(BlockRow {
                number,
                hash,
                tx_count: header.tx_count,
                time: utc(header.timestamp),
            });
        }
    }
    let mut batches = Vec::new();
    if let Some(latest) = store.latest_batch().await.map_err(internal)? {
        let newest = latest.commitment.index;
        for index in (newest.saturating_sub(HOME_BATCHES - 1)..=newest).rev() {
            if let Some(b) = store.batch(index).await.map_err(internal)? {
                batches.push(BatchRow {
                    index,
                    status: b.status.as_str(),
                    from_block: b.commitment.from_block,
                    to_block: b.commitment.to_block,
                    da_bytes: b.da_payload.len(),
                });
            }
        }
    }
    render(&HomePage {
        chain_id: node.config.chain_id,
        executed: head,
        committed,
        proven,
        finalized,
        blocks,
        batches,
    })
}

// ---- blocks and transactions ------------------------------------------------------------

/// A transaction in a list.
struct TxRow {
    hash: B256,
    block: Option<u64>,
    index: u32,
    kind: String,
    from: Option<Address>,
    to: Option<Address>,
    failure: Option<String>,
}

impl TxRow {
    fn of(t: &StoredTransaction) -> Self {
        Self {
            hash: t.hash,
            block: None,
            index: t.index,
            kind: t.transaction.kind().into(),
            from: t.transaction.sender(),
            to: t.transaction.recipient(),
            failure: failure(t),
        }
    }
}

fn failure(t: &StoredTransaction) -> Option<String> {
    match &t.receipt.status {
        weft_protocol::execution::Status::Success => None,
        weft_protocol::execution::Status::Failed(reason) => Some(reason.code().to_string()),
    }
}

#[derive(Template)]
#[template(path = "block.html")]
struct BlockPage {
    number: u64,
    hash: B256,
    parent_hash: B256,
    time: String,
    tx_count: u64,
    state_root: B256,
    transactions_root: B256,
    withdrawals_root: B256,
    queue_position: u64,
    batch: Option<u64>,
    txs: Vec<TxRow>,
}

async fn block(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Page {
    let store = &node.store;
    let found = if let Ok(number) = id.parse::<u64>() {
        store.header_by_number(number).await
    } else if let Ok(hash) = id.parse::<B256>() {
        store.header_by_hash(&hash).await
    } else {
        return Err(not_found(&format!(
            "{id:?} is neither a block number nor a block hash."
        )));
    };
    let Some((header, hash)) = found.map_err(internal)? else {
        return Err(not_found(&format!(
            "There is no block {id} (the head is {}).",
            node.head().number
        )));
    };
    let txs = store
        .block_transactions(header.number)
        .await
        .map_err(internal)?;
    let batch = store
        .batch_of_block(header.number)
        .await
        .map_err(internal)?;
    render(&BlockPage {
        number: header.number,
        hash,
        parent_hash: header.parent_hash,
        time: utc(header.timestamp),
        tx_count: header.tx_count,
        state_root: header.state_root,
        transactions_root: header.transactions_root,
        withdrawals_root: header.withdrawals_root,
        queue_position: header.queue_position,
        batch: batch.map(|b| b.commitment.index),
        txs: txs.iter().map(TxRow::of).collect(),
    })
}

/// A step of a transaction's or batch's way to finality.
struct Step {
    status: &'static str,
    block: Option<u64>,
    batch: Option<u64>,
    l1_tx: Option<B256>,
    l1_url: Option<String>,
}

struct LogRow {
    address: Address,
    topics: Vec<B256>,
    data: String,
}

struct EvmView {
    value: String,
    nonce: u64,
    gas_limit: u64,
    gas_used: u64,
    contract: Option<Address>,
    input: String,
    selector: Option<String>,
    logs: Vec<LogRow>,
}

#[derive(Template)]
#[template(path = "tx.html")]
struct TxPage {
    hash: B256,
    status: &'static str,
    failure: Option<String>,
    kind: &'static str,
    from: Option<Address>,
    to: Option<Address>,
    fee_paid: Option<u128>,
    timeline: Vec<Step>,
    evm: Option<EvmView>,
    fields: String,
}

async fn transaction(State(node): State<Arc<Node>>, Path(hash): Path<String>) -> Page {
    let Ok(hash) = hash.parse::<B256>() else {
        return Err(not_found(&format!("{hash:?} is not a transaction hash.")));
    };
    let stored = node.store.transaction(&hash).await.map_err(internal)?;
    let Some(t) = stored else {
        // Not in a block: the mempool, or unknown.
        let pending = node
            .mempool
            .lock()
            .get(&hash)
            .map(|p| p.transaction.clone());
        let Some(tx) = pending else {
            return Err(not_found(&format!(
                "No transaction {hash} is known (queued or in a block)."
            )));
        };
        return render(&TxPage {
            hash,
            status: "queued",
            failure: None,
            kind: tx.kind(),
            from: tx.sender(),
            to: tx.recipient(),
            fee_paid: None,
            timeline: vec![step("queued", None, None, None, &node)],
            evm: None,
            fields: pretty(&tx),
        });
    };
    let batch = node
        .store
        .batch_of_block(t.block_number)
        .await
        .map_err(internal)?;
    let failure = failure(&t);
    let mut timeline = vec![step(
        if failure.is_some() {
            "failed"
        } else {
            "executed"
        },
        Some(t.block_number),
        None,
        None,
        &node,
    )];
    let mut status = timeline[0].status;
    if let (Some(b), None) = (&batch, &failure) {
        timeline.extend(batch_steps(b, &node));
        status = timeline.last().map_or(status, |s| s.status);
    }
    let evm = match &t.transaction {
        Transaction::Evm(e) => {
            let receipt = t.receipt.evm.as_deref();
            let input = e.input();
            Some(EvmView {
                value: e.value().to_string(),
                nonce: e.nonce(),
                gas_limit: e.gas_limit(),
                gas_used: receipt.map_or(0, |r| r.gas_used),
                contract: receipt.and_then(|r| r.contract_address),
                input: if input.len() > INPUT_SHOWN {
                    format!(
                        "{}… ({} bytes)",
                        alloy::hex::encode_prefixed(&input[..INPUT_SHOWN]),
                        input.len()
                    )
                } else {
                    alloy::hex::encode_prefixed(input)
                },
                selector: (e.to().is_some() && input.len() >= 4)
                    .then(|| alloy::hex::encode_prefixed(&input[..4])),
                logs: receipt.map_or_else(Vec::new, |r| {
                    r.logs
                        .iter()
                        .map(|l| LogRow {
                            address: l.address,
                            topics: l.topics().to_vec(),
                            data: alloy::hex::encode_prefixed(&l.data.data),
                        })
                        .collect()
                }),
            })
        }
        _ => None,
    };
    render(&TxPage {
        hash,
        status,
        failure,
        kind: t.transaction.kind(),
        from: t.transaction.sender(),
        to: t.transaction.recipient(),
        fee_paid: Some(t.receipt.fee_paid),
        timeline,
        evm,
        fields: pretty(&t.transaction),
    })
}

fn pretty(tx: &Transaction) -> String {
    serde_json::to_string_pretty(tx).unwrap_or_default()
}

fn step(
    status: &'static str,
    block: Option<u64>,
    batch: Option<u64>,
    l1_tx: Option<B256>,
    node: &Node,
) -> Step {
    Step {
        status,
        block,
        batch,
        l1_tx,
        l1_url: l1_tx.and_then(|tx| {
            node.config
                .l1_explorer_url
                .as_ref()
                .map(|base| format!("{}/tx/{tx}", base.trim_end_matches('/')))
        }),
    }
}

/// The steps a batch has passed on L1.
fn batch_steps(b: &StoredBatch, node: &Node) -> Vec<Step> {
    let index = Some(b.commitment.index);
    let mut steps = Vec::new();
    for (status, tx) in [
        ("committed", b.commit_l1_tx),
        ("proven", b.prove_l1_tx),
        ("finalized", b.finalize_l1_tx),
    ] {
        let reached = match status {
            "committed" => b.status >= BatchStatus::Committed,
            "proven" => b.status >= BatchStatus::Proven,
            _ => b.status >= BatchStatus::Finalized,
        };
        if reached {
            steps.push(step(status, None, index, tx, node));
        }
    }
    steps
}

// ---- addresses and batches --------------------------------------------------------------

struct CodeView {
    size: usize,
    hash: B256,
}

struct ChannelRow {
    id: B256,
    role: &'static str,
    token: u32,
    total: u128,
    status: String,
}

#[derive(Template)]
#[template(path = "address.html")]
struct AddressPage {
    address: Address,
    nonce: u64,
    index: Option<u32>,
    code: Option<CodeView>,
    balances: Vec<(u32, u128)>,
    channels: Vec<ChannelRow>,
    txs: Vec<TxRow>,
}

async fn address(State(node): State<Arc<Node>>, Path(text): Path<String>) -> Page {
    let Ok(address) = text.parse::<Address>() else {
        return Err(not_found(&format!("{text:?} is not an address.")));
    };
    let (nonce, index, code, balances, channels) = {
        let state = node.state.read();
        let index = state.index_of(&address);
        let account = state.account_by_address(&address);
        let code = index.and_then(|i| state.code_hash(i)).map(|hash| CodeView {
            size: state
                .code_by_hash(&hash)
                .map_or(0, |c| c.original_byte_slice().len()),
            hash,
        });
        let channels = index.map_or_else(Vec::new, |i| {
            state
                .channels()
                .iter()
                .filter(|c| c.wallet == i || c.hub == i)
                .take(ADDRESS_CHANNELS)
                .map(|c| ChannelRow {
                    id: c.id,
                    role: if c.wallet == i { "wallet" } else { "hub" },
                    token: c.token,
                    total: c.total,
                    status: format!("{:?}", c.status).to_lowercase(),
                })
                .collect()
        });
        (
            account.map_or(0, |a| a.nonce),
            index,
            code,
            account.map_or_else(Vec::new, |a| {
                a.balances().map(|b| (b.token, b.amount)).collect()
            }),
            channels,
        )
    };
    let txs = node
        .store
        .address_transactions(&address, ADDRESS_TXS)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|t| TxRow {
            hash: t.hash,
            block: Some(t.block_number),
            index: t.index,
            kind: t.kind,
            from: t.sent.then_some(address),
            to: (!t.sent).then_some(address),
            failure: t.failure,
        })
        .collect();
    render(&AddressPage {
        address,
        nonce,
        index,
        code,
        balances,
        channels,
        txs,
    })
}

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    index: u64,
    status: &'static str,
    from_block: u64,
    to_block: u64,
    da_bytes: usize,
    carrier: &'static str,
    da_hash: B256,
    prev_state_root: B256,
    new_state_root: B256,
    withdrawals_root: B256,
    queue_position: u64,
    l1: Vec<Step>,
}

async fn batch(State(node): State<Arc<Node>>, Path(index): Path<String>) -> Page {
    let found = match index.parse::<u64>() {
        Ok(i) => node.store.batch(i).await.map_err(internal)?,
        Err(_) => None,
    };
    let Some(b) = found else {
        return Err(not_found(&format!("There is no batch {index}.")));
    };
    let c = &b.commitment;
    render(&BatchPage {
        index: c.index,
        status: b.status.as_str(),
        from_block: c.from_block,
        to_block: c.to_block,
        da_bytes: b.da_payload.len(),
        // The poster's only carrier today (blobs are designed, not built: docs/l1.md).
        carrier: "calldata",
        da_hash: c.da_hash,
        prev_state_root: c.prev_state_root,
        new_state_root: c.new_state_root,
        withdrawals_root: c.withdrawals_root,
        queue_position: c.queue_position,
        l1: batch_steps(&b, &node),
    })
}

// ---- search -----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Finds what the query names: a transaction or block hash, an address, a block number,
/// `batch N`.
async fn search(State(node): State<Arc<Node>>, Query(query): Query<SearchQuery>) -> Page {
    let q = query.q.trim();
    let to = |path: String| Ok(Redirect::to(&path).into_response());
    if let Some(n) = q
        .strip_prefix("batch")
        .map(str::trim)
        .and_then(|n| n.parse::<u64>().ok())
    {
        return to(format!("/explorer/batch/{n}"));
    }
    if let Ok(n) = q.parse::<u64>() {
        return to(format!("/explorer/block/{n}"));
    }
    if let Ok(address) = q.parse::<Address>() {
        return to(format!("/explorer/address/{address}"));
    }
    if let Ok(hash) = q.parse::<B256>() {
        let is_tx = node
            .store
            .transaction(&hash)
            .await
            .map_err(internal)?
            .is_some()
            || node.mempool.lock().get(&hash).is_some();
        if is_tx {
            return to(format!("/explorer/tx/{hash}"));
        }
        if node
            .store
            .header_by_hash(&hash)
            .await
            .map_err(internal)?
            .is_some()
        {
            return to(format!("/explorer/block/{hash}"));
        }
        return Err(not_found(&format!(
            "No transaction or block has the hash {hash}."
        )));
    }
    Err(failure_page(
        StatusCode::BAD_REQUEST,
        "Nothing to search",
        "Search for a transaction or block hash (0x and 64 hex digits), an address (0x and 40), a block number, or `batch N`.",
    ))
}

async fn live_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../templates/live.js"),
    )
}

/// `YYYY-MM-DD HH:MM:SS` of a Unix time in seconds (UTC).
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn unix_times_print_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_796_601_599), "2026-12-06 23:59:59");
    }
}
