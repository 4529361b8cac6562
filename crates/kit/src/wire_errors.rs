//! Statuses tonic gives for malformed requests, made into what they mean for a client.
//!
//! tonic answers a request body that does not decode as the method's message with
//! INTERNAL ("failed to decode Protobuf message ..."), a message over the size limit
//! with OUT_OF_RANGE, and an unknown method with a bare UNIMPLEMENTED. The first makes
//! clients' garbage look like server faults on dashboards and alerts; the second is not
//! the code gRPC uses for size limits; the third tells a person nothing. This layer sees
//! only such trailers-only answers (status in the headers) and rewrites them:
//! INVALID_ARGUMENT, RESOURCE_EXHAUSTED, and UNIMPLEMENTED naming the method.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{Layer, Service};

#[derive(Debug, Clone, Copy, Default)]
pub struct WireErrorsLayer;

impl<S> Layer<S> for WireErrorsLayer {
    type Service = WireErrors<S>;
    fn layer(&self, inner: S) -> Self::Service {
        WireErrors { inner }
    }
}

#[derive(Debug, Clone)]
pub struct WireErrors<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for WireErrors<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            rewrite(resp.headers_mut(), &path);
            Ok(resp)
        })
    }
}

fn rewrite(headers: &mut http::HeaderMap, path: &str) {
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let mut details = tonic_types::ErrorDetails::new();
    let info =
        |details: &mut tonic_types::ErrorDetails, reason: &str, meta: Vec<(&str, String)>| {
            details.set_error_info(
                reason,
                crate::error::ERROR_DOMAIN,
                meta.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<std::collections::HashMap<_, _>>(),
            );
        };
    let replacement = match tonic::Code::from_i32(code) {
        tonic::Code::Internal if message.starts_with("failed to decode") => {
            // prost names the field: "failed to decode Protobuf message:
            // ValidateVinRequest.vin: invalid string value: data is not UTF-8 encoded".
            let detail = message
                .strip_prefix("failed to decode Protobuf message:")
                .unwrap_or(&message)
                .trim()
                .to_owned();
            if let Some((field, why)) = detail.split_once(": ")
                && let Some((_, name)) = field.split_once('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                details.add_bad_request_violation(name, why);
            }
            info(
                &mut details,
                "MALFORMED_REQUEST",
                vec![("method", path.to_owned())],
            );
            Some((
                tonic::Code::InvalidArgument,
                format!("the request body is not a valid message for {path}: {detail}"),
            ))
        }
        tonic::Code::OutOfRange if message.contains("too large") => {
            // "decoded message length too large: found N bytes, the limit is: M bytes"
            let numbers: Vec<&str> = message
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .collect();
            let (found, limit) = match numbers.as_slice() {
                [found, limit, ..] => ((*found).to_owned(), (*limit).to_owned()),
                _ => (String::new(), String::new()),
            };
            info(
                &mut details,
                "REQUEST_TOO_LARGE",
                vec![
                    ("found_bytes", found.clone()),
                    ("limit_bytes", limit.clone()),
                ],
            );
            Some((
                tonic::Code::ResourceExhausted,
                if found.is_empty() {
                    "the request is larger than this server accepts (server.max_request_bytes)"
                        .to_owned()
                } else {
                    format!(
                        "the request is {found} bytes, more than the {limit} this server accepts (server.max_request_bytes)"
                    )
                },
            ))
        }
        tonic::Code::Unimplemented if message.is_empty() => {
            info(
                &mut details,
                "UNKNOWN_METHOD",
                vec![("method", path.to_owned())],
            );
            Some((
                tonic::Code::Unimplemented,
                format!(
                    "{path} is not a method this server serves (list them with server reflection)"
                ),
            ))
        }
        _ => None,
    };
    if let Some((code, message)) = replacement {
        let status =
            <tonic::Status as tonic_types::StatusExt>::with_error_details(code, message, details);
        let mut fresh = status.into_http::<()>();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            headers.remove(name);
            if let Some(v) = fresh.headers_mut().remove(name) {
                headers.insert(name, v);
            }
        }
    }
}

/// grpc-message is percent-encoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(headers: &http::HeaderMap) -> (String, String) {
        (
            headers["grpc-status"].to_str().expect("ascii").to_owned(),
            percent_decode(headers["grpc-message"].to_str().expect("ascii")),
        )
    }

    #[test]
    fn malformed_bodies_are_the_clients_error() {
        let mut h = tonic::Status::internal("failed to decode Protobuf message: invalid wire type")
            .into_http::<()>()
            .headers()
            .clone();
        rewrite(&mut h, "/axle.vin.v1.VinService/ValidateVin");
        let (code, msg) = status_of(&h);
        assert_eq!(code, "3");
        assert!(msg.contains("/axle.vin.v1.VinService/ValidateVin"), "{msg}");
        // A field prost names becomes a field violation, as for every INVALID_ARGUMENT.
        let mut h = tonic::Status::internal(
            "failed to decode Protobuf message: ValidateVinRequest.vin: invalid string value: data is not UTF-8 encoded",
        )
        .into_http::<()>()
        .headers()
        .clone();
        rewrite(&mut h, "/axle.vin.v1.VinService/ValidateVin");
        let status = tonic::Status::from_header_map(&h).expect("status");
        let details = tonic_types::StatusExt::get_error_details(&status);
        let bad = details.bad_request().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "vin");
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("MALFORMED_REQUEST")
        );
    }

    #[test]
    fn oversize_is_resource_exhausted_and_unknown_methods_are_named() {
        let mut h = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5242885 bytes, the limit is: 4194304 bytes",
        )
        .into_http::<()>()
        .headers()
        .clone();
        rewrite(&mut h, "/x/Y");
        let (code, msg) = status_of(&h);
        assert_eq!(code, "8");
        assert!(msg.contains("5242885") && msg.contains("4194304"), "{msg}");
        let status = tonic::Status::from_header_map(&h).expect("status");
        let info = tonic_types::StatusExt::get_error_details(&status)
            .error_info()
            .cloned()
            .expect("ErrorInfo");
        assert_eq!(info.reason, "REQUEST_TOO_LARGE");
        assert_eq!(
            info.metadata.get("limit_bytes").map(String::as_str),
            Some("4194304")
        );
        let mut h = tonic::Status::unimplemented("")
            .into_http::<()>()
            .headers()
            .clone();
        rewrite(&mut h, "/made.up/Nope");
        let (code, msg) = status_of(&h);
        assert_eq!(code, "12");
        assert!(msg.contains("/made.up/Nope"), "{msg}");
        // Everything else is left alone.
        let mut h = tonic::Status::internal("boom")
            .into_http::<()>()
            .headers()
            .clone();
        rewrite(&mut h, "/x/Y");
        assert_eq!(status_of(&h), ("13".to_owned(), "boom".to_owned()));
    }
}
