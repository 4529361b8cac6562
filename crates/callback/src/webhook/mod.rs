//! Receiving vendor callbacks: an HTTP endpoint per vendor, and the server that bounds
//! what any client can make it hold (see [`server`]).
//!
//! A delivery goes through, in order:
//! 1. the body, read by its Content-Type ([`Delivery`]);
//! 2. the vendor's own check ([`Verifier`]): authenticity, which request it answers,
//!    the answer itself (or none: an interim "still working");
//! 3. freshness: a signed time further than `max_clock_skew` in the future is refused;
//!    one as far in the past is taken only as a late retry of a query we submitted and
//!    have not been answered on, and not older than that submission (vendors retry for
//!    hours and do not say whether a retry is signed afresh);
//! 4. whether it answers a query of ours: already answered (a redelivery: acknowledged,
//!    nothing changes, even if its content differs), awaiting its answer (stored under
//!    the key we asked about), or unknown (refused: a vendor's signature may cover no
//!    data at all, so a callback for a query we did not make could carry anything);
//! 5. the answer committed to the store, waiting callers woken, and only then the
//!    success reply: the vendor stops retrying only once the answer is safe.
//!
//! Anything refused gets the fail reply, which makes the vendor retry later.

pub mod body;
pub mod multipart;
pub mod server;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::routing::MethodRouter;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

pub use self::body::{Body, BodyError, Delivery, Fields};
pub use self::server::{ServerLimits, serve, serve_listener};
use crate::flow::Callbacks;
use crate::store::{NewResult, StoreError};

/// What a vendor's check says about an authentic delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The vendor's id for the query (may be empty when it sends only ours).
    pub vendor_request_id: String,
    /// Our reference, when the vendor echoes it (looked up first).
    pub our_request_id: Option<String>,
    /// The answer to store. `None`: an interim message ("still querying"), acknowledged
    /// and not stored, so that the final answer is not shadowed by it (first write wins).
    pub payload: Option<String>,
    /// The time the signature covers, if the vendor signs one: checked for freshness.
    pub signed_at: Option<SystemTime>,
    /// Delivered by the Axle sandbox, not the real vendor.
    pub sandbox: bool,
}

/// Why a delivery was refused (logged; the vendor only sees the fail reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unreadable: a field missing or malformed (400).
    BadRequest(String),
    /// Not authentic: a wrong signature, an app id not ours (403).
    Forbidden(String),
}

/// A vendor's check of its deliveries: signature, app id, and what the delivery answers.
/// `now` is this host's clock. Closures `Fn(&Delivery, SystemTime) -> Result<Checked,
/// Refusal>` are verifiers.
pub trait Verifier: Send + Sync + 'static {
    fn check(&self, delivery: &Delivery, now: SystemTime) -> Result<Checked, Refusal>;
}

impl<F> Verifier for F
where
    F: Fn(&Delivery, SystemTime) -> Result<Checked, Refusal> + Send + Sync + 'static,
{
    fn check(&self, delivery: &Delivery, now: SystemTime) -> Result<Checked, Refusal> {
        self(delivery, now)
    }
}

/// How an endpoint answers and how much clock skew it tolerates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// A signed time further than this from our clock is stale (see the module
    /// documentation for late retries). Default 10 min.
    pub max_clock_skew: Duration,
    /// The body that tells the vendor to stop retrying. Default `success` (seed 004:
    /// 请返回包函 success 的字段串).
    pub success_reply: String,
    /// The body of every refusal. Default `fail`.
    pub fail_reply: String,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_clock_skew: Duration::from_secs(600),
            success_reply: "success".to_owned(),
            fail_reply: "fail".to_owned(),
        }
    }
}

/// What became of a delivery (for logs, metrics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored under `request_id` for `key`; waiting callers woken.
    Stored { request_id: String, key: String },
    /// The query was answered already: acknowledged, nothing changed.
    Duplicate,
    /// An interim message for a pending query: acknowledged, not stored.
    Interim { request_id: String },
    /// The body could not be read.
    Unreadable(BodyError),
    /// The vendor's check refused it.
    Refused(Refusal),
    /// Authentic, but its signed time is stale and it is no late retry of ours.
    Stale,
    /// Authentic, but not for a query we made (or one long forgotten).
    Unknown,
    /// The store could not be read or written: the vendor will retry.
    StoreUnavailable(String),
}

impl Outcome {
    /// The HTTP status the vendor sees with the reply.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Stored { .. } | Self::Duplicate | Self::Interim { .. } => StatusCode::OK,
            Self::Unreadable(BodyError::UnsupportedType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unreadable(_) | Self::Refused(Refusal::BadRequest(_)) => StatusCode::BAD_REQUEST,
            Self::Refused(Refusal::Forbidden(_)) | Self::Stale | Self::Unknown => {
                StatusCode::FORBIDDEN
            }
            Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the vendor is told success (stop retrying).
    pub fn acknowledged(&self) -> bool {
        self.status() == StatusCode::OK
    }
}

/// One vendor's callback endpoint.
pub struct Hook<V> {
    callbacks: Callbacks,
    verifier: V,
    settings: WebhookSettings,
}

impl<V> std::fmt::Debug for Hook<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("vendor", &self.callbacks.vendor())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The submission a delivery answers.
enum Known {
    Pending {
        id: String,
        key: String,
        claimed_at: SystemTime,
    },
    Answered,
    Unknown,
}

impl<V: Verifier> Hook<V> {
    pub fn new(callbacks: Callbacks, verifier: V, settings: WebhookSettings) -> Self {
        Self {
            callbacks,
            verifier,
            settings,
        }
    }

    /// Handles one delivery received at `now`.
    pub async fn receive(&self, headers: HeaderMap, raw: Bytes, now: SystemTime) -> Outcome {
        let vendor = self.callbacks.vendor();
        let delivery = match Delivery::parse(headers, raw) {
            Ok(d) => d,
            Err(e) => return Outcome::Unreadable(e),
        };
        // Authenticity first: nothing unauthenticated reaches the store.
        let checked = match self.verifier.check(&delivery, now) {
            Ok(c) => c,
            Err(r) => return Outcome::Refused(r),
        };
        // Differences, never sums: a signed time is the vendor's text, and may be absurd.
        let skew = self.settings.max_clock_skew;
        let late = match checked.signed_at.map(|t| (t, t.duration_since(now))) {
            Some((_, Ok(ahead))) if ahead > skew => return Outcome::Stale,
            Some((t, Err(behind))) if behind.duration() > skew => Some(t),
            _ => None,
        };
        let known = match self.known(&checked).await {
            Ok(k) => k,
            Err(e) => return Outcome::StoreUnavailable(e.to_string()),
        };
        let (id, key) = match known {
            Known::Answered => return Outcome::Duplicate,
            Known::Unknown => return Outcome::Unknown,
            Known::Pending {
                id,
                key,
                claimed_at,
            } => {
                // A late delivery is a retry only if it is no older than our submission:
                // a signature captured before we asked cannot answer what we asked.
                if let Some(t) = late {
                    if claimed_at
                        .duration_since(t)
                        .is_ok_and(|before| before > skew)
                    {
                        tracing::warn!(vendor, request_id = %id, "stale callback refused (older than the submission)");
                        return Outcome::Stale;
                    }
                    tracing::info!(vendor, request_id = %id, "late callback for a pending request accepted");
                }
                (id, key)
            }
        };
        let Some(payload) = checked.payload.as_deref() else {
            return Outcome::Interim { request_id: id };
        };
        let new = NewResult {
            vendor,
            request_id: &id,
            vendor_request_id: &checked.vendor_request_id,
            query_key: &key,
            payload,
            sandbox: checked.sandbox,
        };
        match self.callbacks.store().insert_result(new).await {
            Ok(_) => {
                self.callbacks.waiters().wake(vendor, &key);
                Outcome::Stored {
                    request_id: id,
                    key,
                }
            }
            Err(e) => Outcome::StoreUnavailable(e.to_string()),
        }
    }

    /// What a delivery answers: one of our queries already answered, one awaiting its
    /// answer (by our echoed reference first, then the vendor's id), or nothing we know.
    async fn known(&self, checked: &Checked) -> Result<Known, StoreError> {
        let vendor = self.callbacks.vendor();
        let store = self.callbacks.store();
        let ids: Vec<&str> = checked
            .our_request_id
            .as_deref()
            .into_iter()
            .chain(std::iter::once(checked.vendor_request_id.as_str()))
            .filter(|id| !id.is_empty())
            .collect();
        // Answered first: a redelivery must never be stored a second time, whatever is
        // left pending under the query's other id.
        for id in &ids {
            if store.result_for_request(vendor, id).await?.is_some() {
                return Ok(Known::Answered);
            }
        }
        for id in &ids {
            if let Some(s) = store.submission(vendor, id).await?
                && s.state.awaits_callback()
            {
                return Ok(Known::Pending {
                    id: (*id).to_owned(),
                    key: s.query_key,
                    claimed_at: s.claimed_at,
                });
            }
        }
        Ok(Known::Unknown)
    }

    /// Handles a delivery and logs what became of it.
    async fn respond(&self, headers: HeaderMap, raw: Bytes) -> (StatusCode, String) {
        let vendor = self.callbacks.vendor();
        let outcome = self.receive(headers, raw, SystemTime::now()).await;
        match &outcome {
            Outcome::Stored { request_id, .. } => {
                tracing::info!(vendor, %request_id, "callback stored");
            }
            Outcome::Duplicate => {
                tracing::info!(vendor, "duplicate callback acknowledged; nothing changed");
            }
            Outcome::Interim { request_id } => {
                tracing::info!(vendor, %request_id, "interim callback acknowledged");
            }
            Outcome::StoreUnavailable(e) => {
                tracing::error!(vendor, error = %e, "callback not stored: store unavailable");
            }
            refused => tracing::warn!(vendor, ?refused, "callback refused"),
        }
        let body = if outcome.acknowledged() {
            &self.settings.success_reply
        } else {
            &self.settings.fail_reply
        };
        (outcome.status(), body.clone())
    }
}

/// The route of a vendor's endpoint: `POST` deliveries to [`Hook::receive`], replying
/// with the settings' success or fail body as `text/plain`. Mount it on a router served
/// by [`serve`], which bounds headers, bodies and connections.
pub fn endpoint<V: Verifier>(
    callbacks: Callbacks,
    verifier: V,
    settings: WebhookSettings,
) -> MethodRouter {
    let hook = Arc::new(Hook::new(callbacks, verifier, settings));
    axum::routing::post(move |headers: HeaderMap, raw: Bytes| {
        let hook = hook.clone();
        async move { hook.respond(headers, raw).await }
    })
}

/// Compares two byte strings in time that depends only on their lengths, so a forged
/// signature cannot be found byte by byte from response timings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A Unix-seconds text field (`time=1603872381`) as a time, for [`Checked::signed_at`].
pub fn unix_seconds(text: &str) -> Option<SystemTime> {
    let secs: i64 = text.trim().parse().ok()?;
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_what_the_vendor_sees() {
        assert!(Outcome::Duplicate.acknowledged());
        assert!(
            Outcome::Interim {
                request_id: "r".into()
            }
            .acknowledged()
        );
        assert_eq!(Outcome::Unknown.status(), StatusCode::FORBIDDEN);
        assert_eq!(Outcome::Stale.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            Outcome::Unreadable(BodyError::UnsupportedType("text/plain".into())).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            Outcome::Refused(Refusal::BadRequest("time".into())).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Outcome::StoreUnavailable("down".into()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn helpers() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(
            unix_seconds(" 1603872381 "),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_603_872_381))
        );
        assert_eq!(unix_seconds("soon"), None);
    }
}
