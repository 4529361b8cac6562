//! Response bodies that misbehave on purpose: cut short, dribbled, mislabelled, or in
//! another charset than declared.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// `res` with its Content-Type replaced by `value` (validated with the rule).
pub(crate) fn retyped(mut res: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res
}

/// `res`'s body re-encoded from UTF-8 into `encoding`, its Content-Type keeping its
/// media type with `declared` as the charset (none when `None`).
pub(crate) async fn recoded(res: Response, encoding: &str, declared: Option<&str>) -> Response {
    let (mut parts, body) = res.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let bytes = match encoding_rs::Encoding::for_label(encoding.trim().as_bytes()) {
        Some(enc) => enc.encode(&String::from_utf8_lossy(&full)).0.into_owned(),
        None => full.to_vec(),
    };
    let media = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map_or_else(|| "application/json".to_owned(), |m| m.trim().to_owned());
    let ct = match declared {
        Some(charset) => format!("{media}; charset={charset}"),
        None => media,
    };
    if let Ok(v) = HeaderValue::from_str(&ct) {
        parts.headers.insert(header::CONTENT_TYPE, v);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

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
    async fn recoding_puts_gbk_bytes_under_the_declared_charset() {
        let res = Response::builder()
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from("{\"c\":\"大众\"}"))
            .expect("response");
        let res = recoded(res, "gbk", Some("utf-8")).await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        // 大众 in GBK: B4 F3 D6 DA, not valid UTF-8.
        assert_eq!(&body[..], b"{\"c\":\"\xb4\xf3\xd6\xda\"}");
        assert!(std::str::from_utf8(&body).is_err());

        let res = Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("好"))
            .expect("response");
        let res = recoded(res, "gb18030", None).await;
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/plain");
    }

    #[test]
    fn retyping_replaces_only_the_content_type() {
        let res = Response::builder()
            .status(201)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::empty())
            .expect("response");
        let res = retyped(res, "text/html");
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html");
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
