//! Request bodies under a global memory budget and a deadline.
//!
//! Every data chunk takes as many permits (bytes) from the server's budget as it holds
//! before it is handed to the handler; the permits are returned when the request is done
//! (the body and the request's [`Charge`] dropped). A chunk that finds the budget spent
//! waits, and so does its connection: hyper reads nothing more from that client. The
//! deadline covers receiving the whole body, the waits for the budget included.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    BoxError,
    body::{Body as HttpBody, Bytes},
};
use http_body::{Frame, SizeHint};
use tokio::{
    sync::{AcquireError, OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

/// What one request holds of the budget, and whether its body timed out.
#[derive(Debug, Default)]
pub(crate) struct Charge {
    permits: Mutex<Option<OwnedSemaphorePermit>>,
    timed_out: AtomicBool,
}

impl Charge {
    fn add(&self, permit: OwnedSemaphorePermit) {
        let mut held = self.permits.lock().unwrap_or_else(|e| e.into_inner());
        match held.as_mut() {
            Some(h) => h.merge(permit),
            None => *held = Some(permit),
        }
    }

    /// Whether the body missed its deadline.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// The body did not arrive before its deadline.
#[derive(Debug, thiserror::Error)]
#[error("request body timed out")]
pub(crate) struct BodyTimeout;

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A request body charged to a byte budget, failing with [`BodyTimeout`] after its deadline.
pub(crate) struct Budgeted<B> {
    inner: B,
    budget: Arc<Semaphore>,
    /// The budget's size: a chunk never asks for more than there is.
    budget_bytes: usize,
    charge: Arc<Charge>,
    deadline: Pin<Box<Sleep>>,
    /// A chunk read from the client, waiting for its permits.
    waiting: Option<(Bytes, Acquire)>,
    done: bool,
}

impl<B> std::fmt::Debug for Budgeted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgeted")
            .field("budget_bytes", &self.budget_bytes)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<B> Budgeted<B>
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    pub(crate) fn new(
        inner: B,
        budget: Arc<Semaphore>,
        budget_bytes: usize,
        charge: Arc<Charge>,
        deadline: Instant,
    ) -> Self {
        Self {
            inner,
            budget,
            budget_bytes,
            charge,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            waiting: None,
            done: false,
        }
    }

    /// As an axum body.
    pub(crate) fn into_body(self) -> HttpBody {
        HttpBody::new(self)
    }

    /// `Pending`, or the timeout error once the deadline has passed.
    fn pending_until_deadline(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.charge.timed_out.store(true, Ordering::Relaxed);
            self.waiting = None;
            self.done = true;
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        Poll::Pending
    }
}

impl<B> http_body::Body for Budgeted<B>
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some((_, acquire)) = &mut this.waiting {
                return match acquire.as_mut().poll(cx) {
                    Poll::Ready(Ok(permit)) => {
                        this.charge.add(permit);
                        let (chunk, _) = this.waiting.take().expect("waiting");
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    // The budget's semaphore is never closed.
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e.into()))),
                    Poll::Pending => this.pending_until_deadline(cx),
                };
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(chunk) if chunk.is_empty() => {
                        return Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                    Ok(chunk) => {
                        let bytes = chunk.len().min(this.budget_bytes);
                        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
                        match this.budget.clone().try_acquire_many_owned(bytes) {
                            Ok(permit) => {
                                this.charge.add(permit);
                                return Poll::Ready(Some(Ok(Frame::data(chunk))));
                            }
                            Err(_) => {
                                let acquire = this.budget.clone().acquire_many_owned(bytes);
                                this.waiting = Some((chunk, Box::pin(acquire)));
                            }
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return this.pending_until_deadline(cx),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.waiting.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        if let Some((chunk, _)) = &self.waiting {
            let held = chunk.len() as u64;
            let upper = hint.upper().map(|u| u + held);
            hint.set_lower(hint.lower() + held);
            if let Some(u) = upper {
                hint.set_upper(u);
            }
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::to_bytes;

    use super::*;

    /// A body fed chunk by chunk from the test.
    struct Chan(tokio::sync::mpsc::Receiver<Bytes>);

    impl http_body::Body for Chan {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Chan) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        (tx, Chan(rx))
    }

    #[tokio::test]
    async fn bytes_are_charged_until_the_request_is_done() {
        let budget = Arc::new(Semaphore::new(10));
        let charge = Arc::new(Charge::default());
        let body = Budgeted::new(
            HttpBody::from("hello"),
            budget.clone(),
            10,
            charge.clone(),
            Instant::now() + Duration::from_secs(5),
        );
        assert_eq!(
            &to_bytes(body.into_body(), 100).await.unwrap()[..],
            b"hello"
        );
        assert_eq!(
            budget.available_permits(),
            5,
            "held while the request lives"
        );
        drop(charge);
        assert_eq!(budget.available_permits(), 10);
    }

    #[tokio::test]
    async fn a_chunk_waits_for_the_budget_then_times_out() {
        let budget = Arc::new(Semaphore::new(4));
        let held = budget.clone().acquire_many_owned(4).await.unwrap();
        let (tx, inner) = channel_body();
        let charge = Arc::new(Charge::default());
        let body = Budgeted::new(
            inner,
            budget.clone(),
            4,
            charge.clone(),
            Instant::now() + Duration::from_millis(200),
        );
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        let read = tokio::spawn(to_bytes(body.into_body(), 100));
        let err = read.await.unwrap().unwrap_err();
        assert!(charge.timed_out(), "{err}");
        drop(held);
        assert_eq!(budget.available_permits(), 4);
    }

    #[tokio::test]
    async fn a_waiting_chunk_gets_the_budget_when_it_is_returned() {
        let budget = Arc::new(Semaphore::new(4));
        let held = budget.clone().acquire_many_owned(4).await.unwrap();
        let (tx, inner) = channel_body();
        let charge = Arc::new(Charge::default());
        let body = Budgeted::new(
            inner,
            budget.clone(),
            4,
            charge.clone(),
            Instant::now() + Duration::from_secs(5),
        );
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        drop(tx);
        let read = tokio::spawn(to_bytes(body.into_body(), 100));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!read.is_finished(), "waits for the budget");
        drop(held);
        assert_eq!(&read.await.unwrap().unwrap()[..], b"abc");
        assert!(!charge.timed_out());
    }
}
