//! The WebSocket transport: one socket per wallet, adapted to the hub. A new socket is
//! first logged in by a one-time challenge ([`weft_channel::HubLogin`]); then it opens the
//! wallet's session in [`crate::hub::Sessions`] (a newer login replaces an older session,
//! which is told so and closed), writes what the hub queues there (offers,
//! acknowledgements, sync requests) and hands the wallet's answers to the hub. Messages are
//! [`HubMessage`] and [`WalletMessage`] as JSON text frames.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use rand::{RngCore, SeedableRng, rngs::StdRng};
use tracing::debug;
use weft_protocol::primitives::{Address, B256};

use crate::{error::HubError, hub::Hub};
use weft_channel::{HubLogin, HubMessage, RouteReply, RouteRequest, SignedUpdate, WalletMessage};

/// How long a new socket has to answer its challenge; the challenge is void after it (and
/// after its one answer, right or wrong).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one socket until it closes: its login, then the wallet's session.
pub async fn serve(hub: Arc<Hub>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let Some(wallet) = login(&hub, &mut sink, &mut stream).await else {
        let _ = sink.close().await;
        return;
    };
    let (id, mut outbox) = hub.sessions.open(wallet);
    // The acknowledgement goes first, before anything the session queues.
    if send(&mut sink, &HubMessage::LoggedIn { wallet })
        .await
        .is_err()
    {
        hub.sessions.close(&wallet, id);
        return;
    }
    hub.metrics.sessions.inc();
    debug!(%wallet, "wallet connected");
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

async fn send(sink: &mut SplitSink<WebSocket, Message>, message: &HubMessage) -> Result<(), ()> {
    let text = serde_json::to_string(message).expect("messages serialize");
    sink.send(Message::Text(text.into())).await.map_err(|_| ())
}

/// Sends the socket's challenge and takes its first message, which must be the wallet's
/// login over it, within [`LOGIN_TIMEOUT`]; the wallet, or `None` (refused, told why).
async fn login(
    hub: &Hub,
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
) -> Option<Address> {
    let mut challenge = B256::ZERO;
    StdRng::from_os_rng().fill_bytes(challenge.as_mut_slice());
    send(sink, &HubMessage::Challenge { challenge })
        .await
        .ok()?;
    let first = tokio::time::timeout(LOGIN_TIMEOUT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(t),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let result = match first {
        Ok(Some(text)) => match serde_json::from_str::<WalletMessage>(&text) {
            Ok(WalletMessage::Login { wallet, signature }) => HubLogin { wallet, challenge }
                .verify(&signature, &hub.domain)
                .map(|()| wallet)
                .map_err(HubError::from),
            _ => Err(HubError::Unauthorized(
                "the first message must be the login".into(),
            )),
        },
        Ok(None) => return None,
        Err(_) => Err(HubError::Unauthorized("no login in time".into())),
    };
    match result {
        Ok(wallet) => Some(wallet),
        Err(e) => {
            debug!(error = %e, "socket login refused");
            let refusal = HubMessage::Error {
                channel_id: None,
                code: e.code().into(),
                message: e.to_string(),
            };
            let _ = send(sink, &refusal).await;
            None
        }
    }
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
        WalletMessage::Login { .. } => {
            return Some(HubMessage::Error {
                channel_id: None,
                code: "invalid_request".into(),
                message: "already logged in".into(),
            });
        }
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
            WalletMessage::Route(_) | WalletMessage::Login { .. } => {
                unreachable!("handled by `serve` and above")
            }
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
