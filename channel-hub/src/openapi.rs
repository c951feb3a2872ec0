//! The hub's OpenAPI 3.1 document (`GET /v1/openapi.json`), built from the types of its
//! bodies (`weft_channel::wire`, their JSON Schemas derived beside their serde attributes)
//! and the table of routes below, on the builder the sequencer's document uses
//! ([`weft_service::openapi`]). The WebSocket's messages are described by the same types,
//! under `x-websocket-from-hub` and `x-websocket-from-wallet` of `GET /v1/ws`.

use std::sync::LazyLock;

use serde_json::{Value, json};
use weft_channel::{
    Ack, AdminPayRequest, ChannelView, CloseReply, CloseRequest, ErrorBody, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, HEADER_WALLET, HubInfo, HubMessage, Offer, RegisterReply, RouteReply,
    RouteRequest, SignedUpdate, SyncReply, SyncRequest, WalletMessage,
};
use weft_protocol::schema;
use weft_service::openapi::{Document, Operation as Op, path_param};

/// The document, serialised once.
pub static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&document()).expect("the document serialises"));

/// Statuses of a state update's refusals: a bad body or state (400), an unknown channel
/// (404), a conflict with the hub's state (409), the sequencer unreachable (502).
const UPDATE_ERRORS: &[u16] = &[400, 404, 409, 502];

/// The document as JSON.
pub fn document() -> Value {
    let mut doc = Document::new::<ErrorBody>();
    routes(&mut doc);
    doc.finish(&json!({
        "title": "Weft channel hub API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Register channels opened on the rollup, update them (pay, route, \
            countersign, close) with EIP-712-signed channel states, and follow them on a \
            WebSocket. Errors are {code, message} with stable codes (HubErrorBody). The \
            typed data a wallet signs: GET /v1/types. docs/channels.md tells the protocol.",
    }))
}

fn routes(doc: &mut Document) {
    let id = path_param("id", "the channel's id", &doc.scalar::<schema::Hash>());

    let ok = doc.response::<HubInfo>();
    doc.operation(
        "get",
        "/v1/info",
        Op {
            summary: "The hub's address, domain, head and policies (match cap, lock expiries)",
            ok: (200, "the hub", ok),
            ..Op::default()
        },
    );
    let ok = doc.response::<weft_api::TypesView>();
    doc.operation(
        "get",
        "/v1/types",
        Op {
            summary: "The EIP-712 domain and the typed data a wallet signs for the hub: \
            `channelState` (updates), `hubRequest` (signed reads), `hubLogin` (WebSocket)",
            ok: (200, "the domain and the types", ok),
            ..Op::default()
        },
    );

    let body = doc.request::<SignedUpdate>();
    let ok = doc.response::<RegisterReply>();
    doc.operation(
        "post",
        "/v1/channels",
        Op {
            summary: "Register a channel opened on the rollup: its opening state, signed by \
            the wallet; the hub co-signs it and funds its side by its policy",
            body: Some(body.clone()),
            ok: (200, "the hub's signature and funding", ok),
            errors: UPDATE_ERRORS,
            ..Op::default()
        },
    );

    let signed_read = |name: &str, description: &str, schema: Value| {
        json!({ "name": name, "in": "header", "required": true, "description": description,
                "schema": schema })
    };
    let address = doc.scalar::<schema::Address>();
    let signature = doc.scalar::<schema::Signature>();
    let ok = doc.response::<ChannelView>();
    doc.operation(
        "get",
        "/v1/channels/{id}",
        Op {
            summary: "The channel as the hub holds it: latest state with both signatures, and \
            any offer awaiting the wallet. Its wallet only: a signed read",
            description: "The three headers carry the wallet's EIP-712 signature of \
            `HubRequest(address wallet,string method,string path,uint64 timestamp)` \
            (GET /v1/types, `hubRequest`) for this method and path; the timestamp is in \
            Unix seconds and must be within the hub's window (30 s by default) of its clock.",
            params: vec![
                id.clone(),
                signed_read(HEADER_WALLET, "the wallet", address),
                signed_read(
                    HEADER_TIMESTAMP,
                    "Unix seconds",
                    json!({ "type": "string", "pattern": "^[0-9]{1,20}$" }),
                ),
                signed_read(
                    HEADER_SIGNATURE,
                    "the wallet's signature of the HubRequest",
                    signature,
                ),
            ],
            ok: (200, "the channel", ok),
            errors: &[400, 401, 404],
            ..Op::default()
        },
    );

    let ack = doc.response::<Ack>();
    for (route, summary) in [
        (
            "/v1/channels/{id}/fund",
            "Countersign the hub's funding offer; the hub then deposits its side",
        ),
        (
            "/v1/channels/{id}/topup",
            "A state with the wallet's coming deposit",
        ),
        ("/v1/channels/{id}/pay", "Pay the hub"),
        (
            "/v1/channels/{id}/countersign",
            "Countersign the hub's offer (settle, refund, payment)",
        ),
    ] {
        doc.operation(
            "post",
            route,
            Op {
                summary,
                params: vec![id.clone()],
                body: Some(body.clone()),
                ok: (200, "the hub's signature of the state", ack.clone()),
                errors: UPDATE_ERRORS,
                ..Op::default()
            },
        );
    }
    let route_body = doc.request::<RouteRequest>();
    let ok = doc.response::<RouteReply>();
    doc.operation(
        "post",
        "/v1/channels/{id}/route",
        Op {
            summary: "Pay another wallet through the hub: a state locking the amount to the hub \
            under the payee's hashlock",
            params: vec![id.clone()],
            body: Some(route_body),
            ok: (200, "where the payment stands", ok),
            errors: &[400, 404, 409, 429, 502],
            ..Op::default()
        },
    );
    let close_body = doc.request::<CloseRequest>();
    let ok = doc.response::<CloseReply>();
    doc.operation(
        "post",
        "/v1/channels/{id}/close",
        Op {
            summary: "Cooperative close: the hub co-signs the final state and, if asked, \
            submits the channelClose itself",
            params: vec![id.clone()],
            body: Some(close_body),
            ok: (200, "the hub's signature (and its transaction)", ok),
            errors: UPDATE_ERRORS,
            ..Op::default()
        },
    );
    let sync_body = doc.request::<SyncRequest>();
    let ok = doc.response::<SyncReply>();
    doc.operation(
        "post",
        "/v1/channels/{id}/sync",
        Op {
            summary: "The wallet's latest state, for a hub that lost its newest ones (it \
            answers sync_required until then)",
            params: vec![id.clone()],
            body: Some(sync_body),
            ok: (200, "the hub's view after the sync", ok),
            errors: UPDATE_ERRORS,
            ..Op::default()
        },
    );
    let admin_body = doc.request::<AdminPayRequest>();
    let ok = doc.response::<Offer>();
    doc.operation(
        "post",
        "/v1/admin/channels/{id}/pay",
        Op {
            summary: "The operator has the hub pay the channel's wallet (Authorization: Bearer \
            <admin token>); the answer is the hub's offer, also sent on the wallet's socket",
            params: vec![id],
            body: Some(admin_body),
            ok: (200, "the offer", ok),
            errors: &[400, 401, 403, 404, 409, 502],
            ..Op::default()
        },
    );

    let from_hub = doc.response::<HubMessage>();
    let from_wallet = doc.request::<WalletMessage>();
    let mut ws = Op {
        summary: "The wallet's WebSocket: the hub sends a one-time challenge, the wallet \
            logs in with its signature of HubLogin(address wallet,bytes32 challenge); then \
            offers, acks and routed payments flow as JSON text messages
            (x-websocket-from-hub, x-websocket-from-wallet)",
        ok: (101, "switching protocols", json!({})),
        errors: &[400],
        ..Op::default()
    };
    ws.description = "Messages are JSON text frames of at most 256 KiB, tagged by `type`: \
        from the hub `HubMessage`, from the wallet `WalletMessage` (docs/channels.md, \
        \"WebSocket\").";
    doc.operation("get", "/v1/ws", ws);
    doc.extend("get", "/v1/ws", "x-websocket-from-hub", from_hub, false);
    doc.extend(
        "get",
        "/v1/ws",
        "x-websocket-from-wallet",
        from_wallet,
        true,
    );

    let address = doc.scalar::<schema::Address>();
    doc.operation(
        "get",
        "/health",
        Op {
            summary: "Liveness: the hub's address, its view of the rollup head, its channels",
            ok: (
                200,
                "ok",
                json!({
                    "type": "object",
                    "required": ["status", "address", "head", "channels"],
                    "properties": {
                        "status": { "const": "ok" },
                        "address": address,
                        "head": { "type": "integer", "minimum": 0 },
                        "channels": { "type": "integer", "minimum": 0 },
                    },
                }),
            ),
            ..Op::default()
        },
    );
    doc.service_routes();
}
