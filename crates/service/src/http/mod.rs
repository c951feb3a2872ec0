//! The services' HTTP server: bind, accept under a connection cap, serve HTTP/1.1 with
//! header, idle and body timeouts and a memory budget for request bodies, until stopped.
//!
//! What a hostile client can hold, and for how long ([`Limits`]):
//!
//! - **Connections**: at most [`Limits::max_connections`], lowered to what the open-file
//!   limit leaves after [`FD_HEADROOM`], so accepting never fails with `EMFILE`. When the
//!   cap is reached the oldest idle connection is closed for the newcomer; when every
//!   connection is inside a handler, [`RESERVED_CONNECTIONS`] slots serve only
//!   [`RESERVED_PATHS`] (others answer 503 `overloaded`), so `/health` stays answerable;
//!   past those, the newcomer is closed ([`slots`]).
//! - **Request heads**: a head must arrive within [`Limits::header_timeout`] of the
//!   connection opening or going idle (hyper's header read timeout), else the connection
//!   is closed: slow headers and idle keep-alive connections alike.
//! - **Request bodies**: a body must arrive within [`Limits::body_timeout`] of its head
//!   (408 `request_timeout`), and the bytes of all bodies being received or held by their
//!   requests are bounded by [`Limits::body_budget_bytes`]: a chunk past the budget waits,
//!   and its connection is not read meanwhile ([`body`]).
//!
//! Only HTTP/1.1 is served (as before with `axum::serve`): one request at a time per
//! connection, so the connection cap bounds the requests in flight.

mod body;
mod slots;

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderValue, Request, Response, StatusCode, header},
    response::IntoResponse,
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch},
    task::JoinHandle,
};
use tower::ServiceExt;
use tracing::{debug, info, warn};

use self::{
    body::{Budgeted, Charge},
    slots::{Admitted, Slots},
};

/// Default most open connections (before the open-file limit lowers it).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time to receive a request head, from the connection's opening or its last
/// answer: also how long an idle keep-alive connection is kept.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time to receive a request body, from its head.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default budget of request-body bytes held at once, all connections together.
pub const DEFAULT_BODY_BUDGET_BYTES: usize = 64 << 20;
/// Connections admitted past the cap while every other connection is inside a handler;
/// they serve only [`RESERVED_PATHS`], one request each.
pub const RESERVED_CONNECTIONS: usize = 8;
/// What the reserved connections serve.
pub const RESERVED_PATHS: [&str; 2] = ["/health", "/metrics"];
/// File descriptors left to the rest of the process (database, snapshots, L1 and peer
/// clients, logs) when the open-file limit lowers the connection cap.
pub const FD_HEADROOM: u64 = 128;
/// Largest read buffer of a connection (hyper's default is ~400 KiB): bounds the bytes a
/// connection holds outside the body budget; request heads must fit in it.
const READ_BUFFER_BYTES: usize = 64 << 10;
/// Pause after an accept error other than a failed handshake (e.g. `ENFILE`).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What a client may hold of the server, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most open connections; lowered to what the open-file limit allows.
    pub max_connections: usize,
    /// Time to receive a request head, from the connection's opening or its last answer.
    pub header_timeout: Duration,
    /// Time to receive a request body, from its head.
    pub body_timeout: Duration,
    /// Request-body bytes held at once, all connections together.
    pub body_budget_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_budget_bytes: DEFAULT_BODY_BUDGET_BYTES,
        }
    }
}

/// The connection cap: `max_connections`, lowered so that the connections, the reserved
/// slots and [`FD_HEADROOM`] fit in `open_files` (the soft `RLIMIT_NOFILE`; `None`:
/// unlimited). At least one.
pub fn connection_cap(max_connections: usize, open_files: Option<u64>) -> usize {
    let fits = open_files.map_or(usize::MAX, |n| {
        let left = n.saturating_sub(FD_HEADROOM + RESERVED_CONNECTIONS as u64);
        usize::try_from(left).unwrap_or(usize::MAX)
    });
    max_connections.min(fits).max(1)
}

/// The soft open-file limit of this process; `None` if unlimited.
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// An HTTP server running on its own task.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

/// What every connection's requests share.
#[derive(Debug)]
struct Shared {
    app: Router,
    limits: Limits,
    budget: Arc<Semaphore>,
}

impl Server {
    /// [`Server::start_with`] the default [`Limits`].
    pub async fn start(
        listen: SocketAddr,
        app: Router,
        stop: watch::Receiver<bool>,
    ) -> io::Result<Self> {
        Self::start_with(listen, app, Limits::default(), stop).await
    }

    /// Binds `listen` and serves `app` under `limits` until `stop` turns `true`, then
    /// closes idle connections and finishes the requests in flight. Every accepted socket
    /// gets `TCP_NODELAY` (small request/response messages: no Nagle delay on the
    /// answers); handlers can extract the peer's address as `ConnectInfo<SocketAddr>`.
    pub async fn start_with(
        listen: SocketAddr,
        app: Router,
        limits: Limits,
        mut stop: watch::Receiver<bool>,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("bind {listen}: {e}")))?;
        let addr = listener.local_addr()?;
        let open_files = open_file_limit();
        let cap = connection_cap(limits.max_connections, open_files);
        if cap < limits.max_connections {
            warn!(
                cap,
                configured = limits.max_connections,
                open_files,
                "the open-file limit lowers the connection cap; raise `ulimit -n` for more"
            );
        }
        info!(%addr, max_connections = cap, "accepting connections");
        let slots = Slots::new(cap, RESERVED_CONNECTIONS);
        let shared = Arc::new(Shared {
            app,
            limits,
            budget: Arc::new(Semaphore::new(limits.body_budget_bytes)),
        });
        let task = tokio::spawn(async move {
            // Each connection task holds a sender; `recv` ends when all have finished.
            let (running, mut all_done) = mpsc::channel::<()>(1);
            loop {
                let (tcp, peer) = tokio::select! {
                    biased;
                    () = stopped(&mut stop) => break,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            if !is_handshake_error(&e) {
                                warn!(error = %e, "accept failed");
                                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                            }
                            continue;
                        }
                    },
                };
                let Some(admitted) = slots.admit().await else {
                    debug!(%peer, "connection closed: every slot is busy");
                    continue;
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    debug!(error = %e, "could not set TCP_NODELAY");
                }
                let shared = shared.clone();
                let stop = stop.clone();
                let running = running.clone();
                tokio::spawn(async move {
                    serve_connection(shared, tcp, peer, admitted, stop).await;
                    drop(running);
                });
            }
            drop(listener);
            drop(running);
            let _ = all_done.recv().await;
            Ok(())
        });
        Ok(Self { addr, task })
    }

    /// Where it listens (the bound port when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server has stopped (after `stop` turned `true`) and the requests in
    /// flight are answered.
    pub async fn finished(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }

    /// Stops serving at once: open connections (WebSockets included) are dropped.
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Resolves when `stop` turns `true` (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors of one failed handshake, not of the listener.
fn is_handshake_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, is evicted, or the server stops.
async fn serve_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    mut stop: watch::Receiver<bool>,
) {
    let Admitted {
        permit,
        registration,
    } = admitted;
    let conn = registration.conn.clone();
    let reserved = conn.reserved();
    let header_timeout = shared.limits.header_timeout;
    let io = TokioIo::new(Slotted {
        tcp,
        _permit: permit,
    });
    let service = hyper::service::service_fn(move |request| {
        handle(shared.clone(), peer, conn.clone(), request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(READ_BUFFER_BYTES)
        .keep_alive(!reserved);
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = registration.conn.evicted() => {
            debug!(%peer, "idle connection closed to make room");
            return;
        }
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "connection ended");
    }
}

/// One request: reserved connections serve only [`RESERVED_PATHS`]; the body is charged to
/// the budget and bounded in time; a body that missed its deadline is answered 408.
async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    conn: Arc<slots::Conn>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let _busy = conn.busy();
    if conn.reserved() && !RESERVED_PATHS.contains(&request.uri().path()) {
        return Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is at its connection limit; retry later",
        ));
    }
    let charge = Arc::new(Charge::default());
    let deadline = tokio::time::Instant::now() + shared.limits.body_timeout;
    let mut request = request.map(|incoming| {
        Budgeted::new(
            incoming,
            shared.budget.clone(),
            shared.limits.body_budget_bytes,
            charge.clone(),
            deadline,
        )
        .into_body()
    });
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = match shared.app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if charge.timed_out() {
        return Ok(error_response(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        ));
    }
    Ok(response)
}

/// `{code, message}` (the services' error shape), closing the connection.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let mut response = (
        status,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A socket holding its connection slot: the slot is free once the socket is closed, also
/// after an upgrade (a WebSocket keeps its slot).
#[derive(Debug)]
struct Slotted {
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Slotted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Slotted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    async fn start(app: Router, limits: Limits) -> (Server, watch::Sender<bool>) {
        let (stop, stopped) = watch::channel(false);
        let server = Server::start_with("127.0.0.1:0".parse().unwrap(), app, limits, stopped)
            .await
            .unwrap();
        (server, stop)
    }

    /// Sends `request` and reads until the server closes the connection.
    async fn exchange(addr: SocketAddr, request: &'static [u8]) -> String {
        tokio::task::spawn_blocking(move || {
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            tcp.write_all(request).unwrap();
            let mut answer = String::new();
            tcp.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn serves_until_stopped() {
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (server, stop) = start(app, Limits::default()).await;
        let answer = exchange(
            server.addr(),
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
            "{answer}"
        );
        stop.send_replace(true);
        server.finished().await.unwrap();
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        let (server, _stop) = start(app, Limits::default()).await;
        let answer = exchange(
            server.addr(),
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_answered_408() {
        let app = Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        );
        let limits = Limits {
            body_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let (server, _stop) = start(app, limits).await;
        let answer = exchange(
            server.addr(),
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }

    #[test]
    fn the_open_file_limit_lowers_the_cap() {
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10_000, Some(1024)), 1024 - 128 - 8);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        assert_eq!(connection_cap(100, Some(16)), 1);
    }
}
