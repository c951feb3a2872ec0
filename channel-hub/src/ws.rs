//! The WebSocket transport: one socket per wallet, adapted to the hub. It opens the
//! wallet's session in [`crate::hub::Sessions`], writes what the hub queues there (offers,
//! acknowledgements, sync requests) and hands the wallet's answers to the hub. Messages are
//! [`HubMessage`] and [`WalletMessage`] as JSON text frames.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tracing::debug;
use weft_protocol::primitives::{Address, B256};

use crate::{error::HubError, hub::Hub};
use weft_channel::{HubMessage, RouteReply, RouteRequest, SignedUpdate, WalletMessage};

/// Serves one wallet's socket until it closes.
pub async fn serve(hub: Arc<Hub>, wallet: Address, socket: WebSocket) {
    let (id, mut outbox) = hub.sessions.open(wallet);
    hub.metrics.sessions.inc();
    debug!(%wallet, "wallet connected");
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(message) = outbox.recv().await {
            let text = serde_json::to_string(&message).expect("messages serialize");
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    hub.on_connect(&wallet).await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(t) => t,
            Message::Close(_) => break,
            _ => continue,
        };
        let reply = match serde_json::from_str::<WalletMessage>(&text) {
            Ok(WalletMessage::Route(req)) => {
                route(&hub, wallet, req, &in_flight);
                None
            }
            Ok(message) => handle(&hub, &wallet, message).await,
            Err(e) => Some(HubMessage::Error {
                channel_id: None,
                code: "invalid_json".into(),
                message: e.to_string(),
            }),
        };
        if let Some(reply) = reply {
            hub.sessions.send(&wallet, reply);
        }
    }
    hub.sessions.close(&wallet, id);
    hub.metrics.sessions.dec();
    writer.abort();
    debug!(%wallet, "wallet disconnected");
}

/// A payment sent on the socket. It waits for its payee, so it runs on its own task and
/// the socket keeps serving the wallet's other messages (its answers as a payee) meanwhile;
/// the answer is a [`HubMessage::Routed`].
fn route(hub: &Arc<Hub>, wallet: Address, req: RouteRequest, in_flight: &Arc<AtomicUsize>) {
    let hashlock = req.state.locks.last().map_or(B256::ZERO, |l| l.hashlock);
    let answer = move |hub: &Hub, result: Result<RouteReply, HubError>| {
        let (reply, error) = match result {
            Ok(reply) => (Some(Box::new(reply)), None),
            Err(e) => (None, Some(Box::new(e.body()))),
        };
        hub.sessions.send(
            &wallet,
            HubMessage::Routed {
                hashlock,
                reply,
                error,
            },
        );
    };
    let limit = hub.config.max_payments_in_flight;
    if in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        answer(hub, Err(HubError::TooManyPayments(limit)));
        return;
    }
    let (hub, in_flight) = (hub.clone(), in_flight.clone());
    tokio::spawn(async move {
        let id = req.state.channel_id;
        let result = async {
            hub.authorize(&id, &wallet).await?;
            hub.route(&id, req).await
        }
        .await;
        in_flight.fetch_sub(1, Ordering::AcqRel);
        answer(&hub, result);
    });
}

async fn handle(hub: &Arc<Hub>, wallet: &Address, message: WalletMessage) -> Option<HubMessage> {
    let channel_id = match &message {
        WalletMessage::Fulfil { channel_id, .. } => *channel_id,
        WalletMessage::Reject { state, .. } => state.channel_id,
        WalletMessage::Countersign(u) => u.state.channel_id,
        WalletMessage::Sync(s) => s.state.channel_id,
        WalletMessage::Route(_) => unreachable!("routed by `serve`"),
    };
    let result = async {
        hub.authorize(&channel_id, wallet).await?;
        Ok(Some(match message {
            // A revealed secret needs no answer.
            WalletMessage::Fulfil { secret, .. } => {
                hub.fulfil(wallet, &channel_id, secret).await?;
                return Ok(None);
            }
            // `reject` queues its acknowledgement on the socket itself, in order.
            WalletMessage::Reject {
                state,
                wallet_signature,
            } => {
                let update = SignedUpdate {
                    state,
                    wallet_signature,
                };
                hub.reject(wallet, update).await?;
                return Ok(None);
            }
            WalletMessage::Countersign(update) => {
                HubMessage::Ack(hub.countersign(&channel_id, update).await?)
            }
            WalletMessage::Sync(req) => {
                HubMessage::Synced(Box::new(hub.sync(&channel_id, req).await?))
            }
            WalletMessage::Route(_) => unreachable!("routed by `serve`"),
        }))
    }
    .await;
    result.unwrap_or_else(|e: HubError| {
        Some(HubMessage::Error {
            channel_id: Some(channel_id),
            code: e.code().into(),
            message: e.to_string(),
        })
    })
}
