//! The end of the shutdown grace period: every connection still open is cut.
//!
//! tonic's graceful shutdown sends GOAWAY and then waits, with no limit, for every
//! connection to finish, each in its own task; abandoning its future leaves those tasks
//! serving. To make `shutdown_grace` a hard bound, the server wraps each accepted
//! connection in [`CutIo`]: once [`Cutoff::cut`] is called, reads and writes fail, hyper
//! drops the connection (and with it the handlers still running on it, which cancels
//! their vendor calls), and tonic's serve future completes.
//!
//! On the hot path a read or write costs one atomic load more. Only after
//! [`Cutoff::arm`] (shutdown has begun) does an idle connection register to be woken by
//! the cut; tonic polls every connection when it starts the graceful drain, so each one
//! registers before the cut can come.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

/// The switch shared by a server's connections.
#[derive(Debug, Clone)]
pub struct Cutoff {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    armed: AtomicBool,
    cut: AtomicBool,
    open: AtomicUsize,
    signal: watch::Sender<bool>,
}

impl Default for Cutoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Cutoff {
    pub fn new() -> Self {
        Self {
            state: Arc::new(State {
                armed: AtomicBool::new(false),
                cut: AtomicBool::new(false),
                open: AtomicUsize::new(0),
                signal: watch::channel(false).0,
            }),
        }
    }

    /// Shutdown has begun: from now on, waiting connections listen for the cut.
    pub fn arm(&self) {
        self.state.armed.store(true, Ordering::SeqCst);
    }

    /// Cuts every connection (and any accepted later). Returns how many were open.
    pub fn cut(&self) -> usize {
        self.arm();
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.signal.send_replace(true);
        self.open()
    }

    /// Connections accepted and not yet closed.
    pub fn open(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }

    /// Wraps an accepted connection.
    pub fn wrap<T>(&self, io: T) -> CutIo<T> {
        self.state.open.fetch_add(1, Ordering::SeqCst);
        CutIo {
            io,
            state: self.state.clone(),
            waiter: None,
        }
    }
}

type Waiter = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection that fails once its server's [`Cutoff`] is cut.
pub struct CutIo<T> {
    io: T,
    state: Arc<State>,
    waiter: Option<Waiter>,
}

impl<T> std::fmt::Debug for CutIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutIo").finish_non_exhaustive()
    }
}

impl<T> Drop for CutIo<T> {
    fn drop(&mut self) {
        self.state.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "shutdown grace period over: connection cut",
    )
}

impl<T> CutIo<T> {
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::Acquire)
    }

    /// Called when the inner I/O is not ready: after shutdown has begun, also wait for
    /// the cut, and report whether it has come.
    fn cut_while_waiting(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.state.armed.load(Ordering::Acquire) {
            return false;
        }
        let waiter = self.waiter.get_or_insert_with(|| {
            let mut rx = self.state.signal.subscribe();
            Box::pin(async move {
                // The sender lives in the shared state, which this connection holds.
                let _ = rx.wait_for(|cut| *cut).await;
            })
        });
        waiter.as_mut().poll(cx).is_ready()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CutIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending if this.cut_while_waiting(cx) => Poll::Ready(Err(cut_error())),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CutIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending if this.cut_while_waiting(cx) => Poll::Ready(Err(cut_error())),
            other => other,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Pending if this.cut_while_waiting(cx) => Poll::Ready(Err(cut_error())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<T: tonic::transport::server::Connected> tonic::transport::server::Connected for CutIo<T> {
    type ConnectInfo = T::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn a_cut_fails_waiting_and_later_io_and_counts_connections() {
        let cutoff = Cutoff::new();
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut io = cutoff.wrap(ours);
        assert_eq!(cutoff.open(), 1);
        // Before the cut, it is a plain connection.
        theirs.write_all(b"hi").await.expect("write");
        let mut buf = [0_u8; 2];
        io.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"hi");
        // A read waiting when the cut comes is woken and fails.
        cutoff.arm();
        let reader = tokio::spawn(async move {
            let mut buf = [0_u8; 1];
            let r = io.read(&mut buf).await;
            (r, io)
        });
        tokio::task::yield_now().await;
        assert_eq!(cutoff.cut(), 1);
        let (r, mut io) = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("woken by the cut")
            .expect("task");
        assert_eq!(r.expect_err("cut").kind(), io::ErrorKind::ConnectionAborted);
        assert!(io.write_all(b"x").await.is_err(), "writes fail too");
        drop(io);
        assert_eq!(cutoff.open(), 0);
    }

    #[tokio::test]
    async fn unarmed_waiting_connections_do_not_register() {
        let cutoff = Cutoff::new();
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut io = cutoff.wrap(ours);
        let mut buf = [0_u8; 1];
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), io.read(&mut buf)).await;
        assert!(pending.is_err(), "nothing to read yet");
        assert!(io.waiter.is_none(), "no waiter before shutdown begins");
    }
}
