//! Statuses tonic gives for malformed requests, made into what they mean for a client.
//!
//! tonic answers a request body that does not decode as the method's message with
//! INTERNAL ("failed to decode Protobuf message ..."), a message over the size limit
//! with OUT_OF_RANGE, and an unknown method with a bare UNIMPLEMENTED. The first makes
//! clients' garbage look like server faults on dashboards and alerts; the second is not
//! the code gRPC uses for size limits; the third tells a person nothing. The server stack
//! ([`crate::stack`]) hands only such trailers-only answers (status in the headers) here,
//! to be rewritten: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, and UNIMPLEMENTED naming the
//! method.

/// Rewrites a trailers-only answer whose status (already read: `code`) is one of the three
/// above, for the call to `path`, and returns the status the client will see.
pub(crate) fn rewrite(headers: &mut http::HeaderMap, code: tonic::Code, path: &str) -> tonic::Code {
    if !matches!(
        code,
        tonic::Code::Internal | tonic::Code::OutOfRange | tonic::Code::Unimplemented
    ) {
        return code;
    }
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
    let replacement = match code {
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
    let Some((code, message)) = replacement else {
        return code;
    };
    let status =
        <tonic::Status as tonic_types::StatusExt>::with_error_details(code, message, details);
    let mut fresh = status.into_http::<()>();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
        if let Some(v) = fresh.headers_mut().remove(name) {
            headers.insert(name, v);
        }
    }
    code
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

    /// Reads the status from the headers, rewrites, and checks that the code returned is
    /// the one now in the headers.
    fn rewrite_as_the_stack_does(headers: &mut http::HeaderMap, path: &str) {
        let code = tonic::Status::from_header_map(headers)
            .expect("status")
            .code();
        let returned = rewrite(headers, code, path);
        assert_eq!(status_of(headers).0, (returned as i32).to_string());
    }

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
        rewrite_as_the_stack_does(&mut h, "/axle.vin.v1.VinService/ValidateVin");
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
        rewrite_as_the_stack_does(&mut h, "/axle.vin.v1.VinService/ValidateVin");
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
        rewrite_as_the_stack_does(&mut h, "/x/Y");
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
        rewrite_as_the_stack_does(&mut h, "/made.up/Nope");
        let (code, msg) = status_of(&h);
        assert_eq!(code, "12");
        assert!(msg.contains("/made.up/Nope"), "{msg}");
        // Everything else is left alone.
        let mut h = tonic::Status::internal("boom")
            .into_http::<()>()
            .headers()
            .clone();
        rewrite_as_the_stack_does(&mut h, "/x/Y");
        assert_eq!(status_of(&h), ("13".to_owned(), "boom".to_owned()));
    }
}
