//! The wallet's WebSocket to the hub: kept open (reconnecting after drops), the hub's
//! messages dispatched in order (answers to payments straight to their waiting `pay`), and
//! the wallet's messages queued on it.

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch as tokio_watch};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};

use crate::{ClientError, RECONNECT_DELAY, Wallet};
use weft_channel::{HubLogin, HubMessage, WalletMessage};

impl Wallet {
    pub(super) async fn on_message(&self, message: HubMessage) {
        let result = match message {
            HubMessage::Offer(offer) => {
                let id = offer.state.channel_id;
                match self.on_offer(offer).await {
                    // An offer the wallet cannot place is built on a state it does not hold
                    // (the hub's answer to one of its requests was lost): sync, which
                    // brings the hub's latest state and the offer again.
                    Err(ClientError::Transition(_) | ClientError::BadOffer(_)) => {
                        self.sync(&id).await
                    }
                    other => other,
                }
            }
            HubMessage::Ack(ack) => self.on_ack(ack).await,
            HubMessage::SyncRequest { channel_id, .. } => self.send_sync(&channel_id).await,
            HubMessage::Synced(reply) => self.adopt(*reply).await,
            HubMessage::Routed {
                hashlock,
                reply,
                error,
            } => {
                self.on_routed(hashlock, reply, error);
                Ok(())
            }
            HubMessage::Challenge { .. } | HubMessage::LoggedIn { .. } => {
                warn!("login message after the login: ignored");
                Ok(())
            }
            HubMessage::Error {
                channel_id,
                code,
                message,
            } => {
                warn!(channel = ?channel_id, %code, %message, "hub refused a socket message");
                if let Some(id) = channel_id {
                    self.inner.sent.lock().retain(|(c, _), _| c != &id);
                    self.inner.answered.notify_waiters();
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "handling a hub message failed");
        }
    }

    pub(super) fn send(&self, message: WalletMessage) {
        let sent = self
            .inner
            .socket
            .lock()
            .as_ref()
            .is_some_and(|tx| tx.send(message).is_ok());
        if !sent {
            debug!("socket down: the answer is sent again after the hub re-offers");
        }
    }
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;
type Stream = futures_util::stream::SplitStream<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
>;

/// The next hub message on a socket not yet logged in.
async fn next_message(
    stream: &mut Stream,
) -> Result<HubMessage, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t)?),
            Some(Ok(Message::Close(_))) | None => return Err("socket closed at login".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Logs the socket in: signs the challenge the hub sent first on it and waits for the hub
/// to accept the login.
async fn login(
    wallet: &Wallet,
    sink: &mut Sink,
    stream: &mut Stream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let inner = &wallet.inner;
    let HubMessage::Challenge { challenge } = next_message(stream).await? else {
        return Err("the hub did not open with a challenge".into());
    };
    let signature = HubLogin {
        wallet: inner.address,
        challenge,
    }
    .sign(&inner.config.key, &inner.domain);
    let login = WalletMessage::Login {
        wallet: inner.address,
        signature,
    };
    let text = serde_json::to_string(&login).expect("messages serialize");
    sink.send(Message::Text(text.into())).await?;
    match next_message(stream).await? {
        HubMessage::LoggedIn { wallet } if wallet == inner.address => Ok(()),
        HubMessage::Error { code, message, .. } => {
            Err(format!("login refused: {code}: {message}").into())
        }
        other => Err(format!("unexpected answer to the login: {other:?}").into()),
    }
}

/// Keeps the wallet's WebSocket open, reconnecting after drops, until the wallet closes.
pub(super) async fn socket_loop(wallet: Wallet) {
    let mut stop = wallet.inner.stop.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = run_socket(&wallet, &mut stop).await {
            debug!(error = %e, "hub socket closed");
        }
        wallet.inner.connected.send_replace(false);
        wallet.inner.socket.lock().take();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

async fn run_socket(
    wallet: &Wallet,
    stop: &mut tokio_watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let inner = &wallet.inner;
    let url = format!("{}/v1/ws", inner.config.hub_url.replacen("http", "ws", 1));
    // Messages are a few KiB at most: small buffers (tungstenite zeroes its whole read
    // buffer on each read, 128 KiB by default) and no Nagle delay.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(weft_channel::SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(weft_channel::MAX_SOCKET_MESSAGE))
        .max_frame_size(Some(weft_channel::MAX_SOCKET_MESSAGE));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let (mut sink, mut stream) = socket.split();
    login(wallet, &mut sink, &mut stream).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<WalletMessage>();
    *inner.socket.lock() = Some(tx);
    inner.connected.send_replace(true);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let text = serde_json::to_string(&m).expect("messages serialize");
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let (handle, mut queued) = mpsc::unbounded_channel::<HubMessage>();
    let handler = wallet.clone();
    tokio::spawn(async move {
        while let Some(m) = queued.recv().await {
            handler.on_message(m).await;
        }
    });
    let result = loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break Ok(()),
            frame = stream.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => break Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break Err(e.into()),
        };
        match serde_json::from_str::<HubMessage>(&text) {
            // Answers to payments go straight to their waiting `pay` (which may hold the
            // channel's operation lock that a queued offer waits for).
            Ok(HubMessage::Routed {
                hashlock,
                reply,
                error,
            }) => wallet.on_routed(hashlock, reply, error),
            // The rest in order, on the handler task.
            Ok(m) => {
                let _ = handle.send(m);
            }
            Err(e) => warn!(error = %e, "unreadable hub message"),
        }
    };
    writer.abort();
    // Payments waiting for an answer on this socket get none: their senders are dropped.
    inner.routes.lock().clear();
    result
}
