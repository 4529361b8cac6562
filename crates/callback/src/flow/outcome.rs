//! What a connector hands the flow (a submission's result) and what the flow hands back
//! (the answer, a pending query, or a failure).

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoredResult;

/// What the connector's submit function is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Our reference for the query: send it along (platecb: as the custom parameter the
    /// vendor echoes in its callback), so the callback can be matched even when the
    /// vendor's acceptance names no id of its own.
    pub request_id: String,
    /// What is asked about (a plate).
    pub key: String,
    /// When the submission must be over. It is the flow's, not the caller's: the
    /// submission runs to its end even when the caller who started it has gone, so that
    /// a paid query is never left half-known.
    pub deadline: Instant,
}

/// The vendor took the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted<R> {
    /// The vendor's own id for the query, when its acceptance carries one: callbacks
    /// naming only that id are matched too.
    pub vendor_request_id: Option<String>,
    /// Data the vendor returned at once (seed 004's `10000`, billed): stored as the
    /// query's answer; no callback is awaited.
    pub answer: Option<SyncAnswer>,
    /// Whatever the connector wants back about its call (cost, attempts, sandbox): given
    /// only to the caller that made the submission, since the charge is its.
    pub receipt: R,
}

/// Data that came with the acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAnswer {
    /// In the form the store keeps callbacks' answers in, so both read alike.
    pub payload: String,
    pub sandbox: bool,
}

impl<R> Submitted<R> {
    /// Accepted; the answer comes by callback.
    pub fn accepted(vendor_request_id: Option<String>, receipt: R) -> Self {
        Self {
            vendor_request_id,
            answer: None,
            receipt,
        }
    }

    /// Answered at once, with data.
    pub fn answered(
        vendor_request_id: Option<String>,
        payload: String,
        sandbox: bool,
        receipt: R,
    ) -> Self {
        Self {
            vendor_request_id,
            answer: Some(SyncAnswer { payload, sandbox }),
            receipt,
        }
    }
}

/// Why a submission did not end in [`Submitted`], as the connector classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError<E> {
    /// Certainly not a query at the vendor: it never left (connect failure, local limit,
    /// no time), or the vendor refused it (a code, an HTTP 4xx/5xx answer). Nothing is
    /// billed and nothing will call back: the key is free again, and callers who joined
    /// learn this error at once.
    NotSent(E),
    /// The vendor may have it: the request left and no answer came back (timeout,
    /// connection reset mid-request). The key is not submitted again before
    /// `unclear_resubmit_after`, so a query that did arrive is not paid twice; callers
    /// are told so at once rather than made to wait for a callback that may never come.
    Unclear(E),
}

/// The outcome of [`crate::Callbacks::ask`].
#[derive(Debug)]
pub enum Asked<R, E> {
    /// An answer is stored for the key (which may itself say the vendor's query failed:
    /// reading the payload is the connector's business).
    Answered(Answered<R>),
    /// No answer yet.
    Pending(Pending<R, E>),
    /// The submission (this caller's, or the one it joined) certainly failed.
    Failed(Failed<E>),
}

#[derive(Debug)]
pub struct Answered<R> {
    pub result: StoredResult,
    /// Served from the store without any submission by this call: no new charge.
    pub reused: bool,
    /// This call made the submission: what the connector returned about it.
    pub receipt: Option<R>,
}

#[derive(Debug)]
pub struct Pending<R, E> {
    /// Our reference of the submission awaited.
    pub request_id: String,
    /// When the key's query was claimed (first submitted).
    pub claimed_at: SystemTime,
    pub stage: Stage<E>,
    /// When asking again may find something new.
    pub retry_after: Duration,
    /// This call made the submission (and it was accepted).
    pub receipt: Option<R>,
}

/// Where a pending query stands.
#[derive(Debug)]
pub enum Stage<E> {
    /// Being submitted, by this call in the background or by another caller (replica).
    Submitting,
    /// The vendor took it; its callback has not arrived yet.
    Accepted,
    /// The submission may not have reached the vendor. Not submitted again before
    /// `resubmit_at`; a callback for it, if one comes, is stored and served.
    Unclear {
        /// The submitter's error: `None` when the flow itself gave up on the submission
        /// (it overran its deadline or panicked) or the recorded error no longer decodes.
        error: Option<E>,
        message: String,
        resubmit_at: SystemTime,
    },
}

#[derive(Debug)]
pub struct Failed<E> {
    /// Our reference of the failed submission.
    pub request_id: String,
    /// The submitter's error, as it classified it: `None` only when the error recorded by
    /// another build (replica) no longer decodes as `E`; `message` still says what it was.
    pub error: Option<E>,
    pub message: String,
    /// This call's own submission (false: it joined another caller's).
    pub own: bool,
}

/// A submission's error as recorded on its row, for callers who join it (possibly on
/// another replica): the text for people, and the error itself for the connector.
pub(crate) fn record<E: Serialize>(error: Option<&E>, message: &str) -> String {
    let error = error.and_then(|e| serde_json::to_value(e).ok());
    serde_json::json!({ "message": message, "error": error }).to_string()
}

/// Reads back what [`record`] wrote; anything else is kept as the message.
pub(crate) fn recorded<E: DeserializeOwned>(detail: &str) -> (Option<E>, String) {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(mut map)) => {
            let message = map
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let error = map
                .remove("error")
                .filter(|e| !e.is_null())
                .and_then(|e| serde_json::from_value(e).ok());
            (error, message)
        }
        _ => (None, detail.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct VendorCode {
        code: u32,
    }

    /// Another build's error type.
    #[derive(Debug, serde::Deserialize)]
    struct Other {
        #[allow(dead_code)]
        kind: String,
    }

    impl std::fmt::Display for VendorCode {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "vendor code {}", self.code)
        }
    }

    #[test]
    fn a_recorded_error_reads_back_and_a_foreign_one_keeps_its_message() {
        let e = VendorCode { code: 10025 };
        let text = record(Some(&e), &e.to_string());
        assert_eq!(
            recorded::<VendorCode>(&text),
            (Some(e), "vendor code 10025".to_owned())
        );
        // Written by a build whose error type differs: the message survives.
        assert_eq!(recorded::<Other>(&text).1, "vendor code 10025");
        assert!(recorded::<Other>(&text).0.is_none());
        // No error at all (the flow gave up on the submission itself).
        let text = record::<VendorCode>(None, "overran");
        assert_eq!(recorded::<VendorCode>(&text), (None, "overran".to_owned()));
        // Not JSON: kept as the message.
        assert_eq!(
            recorded::<VendorCode>("plain words"),
            (None, "plain words".to_owned())
        );
    }
}
