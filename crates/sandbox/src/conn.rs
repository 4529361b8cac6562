//! A connection a request can abort: the `reset` fault needs the client to see a dropped
//! connection (TCP RST), which only the connection's owner can cause. The accept loop
//! (`crate::server`) wraps each socket in a [`ResettableStream`] and hands the requests a
//! [`ConnHandle`].

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Lets a request abort the connection it arrived on.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnHandle(Arc<ConnHandleInner>);

#[derive(Debug, Default)]
struct ConnHandleInner {
    reset: AtomicBool,
    notify: Notify,
}

impl ConnHandle {
    /// Resolves once [`ConnHandle::reset`] was called.
    pub(crate) async fn reset_requested(&self) {
        self.0.notify.notified().await;
    }

    pub(crate) fn reset(&self) {
        self.0.reset.store(true, Ordering::SeqCst);
        // notify_one keeps a permit, so the reset is not lost if the connection task is
        // busy polling the connection right now.
        self.0.notify.notify_one();
    }
}

/// A TCP stream that closes with RST instead of FIN when its connection was reset by a
/// fault, so clients see "connection reset" as they would from a crashed vendor.
#[derive(Debug)]
pub(crate) struct ResettableStream {
    inner: TcpStream,
    handle: ConnHandle,
}

impl ResettableStream {
    pub(crate) fn new(inner: TcpStream, handle: ConnHandle) -> Self {
        Self { inner, handle }
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.handle.0.reset.load(Ordering::SeqCst) {
            // Zero linger makes close() abortive; it never blocks (unlike other values).
            if let Err(e) = self.inner.set_zero_linger() {
                tracing::debug!(error = %e, "could not set SO_LINGER 0; peer sees EOF instead of RST");
            }
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
