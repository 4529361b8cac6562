//! Response bodies that misbehave on purpose: cut short, or dribbled.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The first `at` bytes of `full` (default: half), always shorter than `full` so a
/// complete JSON document never survives.
pub(crate) fn truncated(full: &Bytes, at: Option<usize>) -> Bytes {
    let cut = at
        .unwrap_or(full.len() / 2)
        .min(full.len().saturating_sub(1));
    full.slice(..cut)
}

/// A body that arrives `chunk` bytes at a time, one chunk per `interval`.
#[derive(Debug)]
pub(crate) struct Dribble {
    rest: Bytes,
    chunk: usize,
    interval: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Dribble {
    pub(crate) fn new(body: Bytes, chunk: usize, interval: Duration) -> Self {
        Self {
            rest: body,
            chunk: chunk.max(1),
            interval,
            sleep: Box::pin(tokio::time::sleep(interval)),
        }
    }
}

impl http_body::Body for Dribble {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            return Poll::Ready(None);
        }
        ready!(this.sleep.as_mut().poll(cx));
        let chunk = this.rest.split_to(this.chunk.min(this.rest.len()));
        let next = tokio::time::Instant::now() + this.interval;
        this.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use http_body_util::BodyExt as _;

    use super::*;

    #[test]
    fn truncation_never_keeps_the_whole() {
        let full = Bytes::from_static(b"{\"a\":1}");
        assert_eq!(truncated(&full, None), Bytes::from_static(b"{\"a"));
        assert_eq!(truncated(&full, Some(2)), Bytes::from_static(b"{\""));
        assert_eq!(truncated(&full, Some(99)).len(), full.len() - 1);
        assert!(truncated(&Bytes::new(), Some(5)).is_empty());
    }

    #[tokio::test]
    async fn dribble_sends_every_byte_in_chunks() {
        let mut body = Dribble::new(
            Bytes::from_static(b"0123456789"),
            4,
            Duration::from_millis(1),
        );
        let mut chunks = Vec::new();
        while let Some(frame) = body.frame().await {
            chunks.push(frame.expect("infallible").into_data().expect("data"));
        }
        assert_eq!(chunks, [&b"0123"[..], &b"4567"[..], &b"89"[..]]);
        assert!(body.is_end_stream());
    }
}
