//! The services' HTTP listener: bind, `TCP_NODELAY`, serve an axum router until stopped.

use std::{io, net::SocketAddr};

use axum::{Router, serve::ListenerExt};
use tokio::{sync::watch, task::JoinHandle};

/// An axum server running on its own task.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Binds `listen` and serves `app` until `stop` turns `true`, then finishes the requests
    /// in flight. Every accepted socket gets `TCP_NODELAY` (small request/response
    /// messages: no Nagle delay on the answers); handlers can extract the peer's address as
    /// `ConnectInfo<SocketAddr>`.
    pub async fn start(
        listen: SocketAddr,
        app: Router,
        mut stop: watch::Receiver<bool>,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("bind {listen}: {e}")))?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_until_stopped() {
        let (stop, stopped) = watch::channel(false);
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let server = Server::start("127.0.0.1:0".parse().unwrap(), app, stopped)
            .await
            .unwrap();
        let addr = server.addr();
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            tcp.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
            "{answer}"
        );
        stop.send_replace(true);
        server.finished().await.unwrap();
    }
}
