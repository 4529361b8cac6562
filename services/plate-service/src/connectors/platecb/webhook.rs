//! `POST /webhooks/platecb`: where platecb delivers answers (seed 004).
//!
//! Checks, in order: the form has every field; `appid` is ours;
//! `sign == md5(time + appid + secret)`, compared in constant time; `time` is within
//! `max_clock_skew` of our clock, so a captured callback cannot be replayed later. The
//! platform retries an unacknowledged callback after 5 (or 10) minutes, 1 h and 12 h, and
//! the document does not say whether a retry is signed afresh; so an old `time` is still
//! accepted for a request we submitted and have not been answered on, provided it is not
//! older than the submission, and an old delivery for a request already stored is
//! acknowledged without being read. Then the payload is committed to the store and only
//! then is `success` answered; anything else answers `fail`, which makes the platform
//! retry. A duplicate `request_id` is acknowledged and changes nothing.
//!
//! Only callbacks for queries we submitted (a pending request, matched by our echoed
//! `axle_ref` or the vendor's `request_id`) are stored, under the plate we asked about:
//! the signature covers only `time` and `appid`, so the data of any other callback could
//! be anything.
//!
//! `result_status` (1 成功, 2 查询中, 3 失败): a final answer (1 or 3) is stored; an
//! interim "still querying" (2) is acknowledged and not stored, so the final one that
//! follows is not shadowed by it (the store keeps the first write per request).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use settings::Secret;

use super::Waiters;
use crate::store::{CallbackStore, StoreError};

pub const PATH: &str = "/webhooks/platecb";

#[derive(Debug, Clone)]
pub struct Webhook {
    pub appid: String,
    pub secret: Secret<String>,
    pub max_clock_skew: Duration,
    pub store: CallbackStore,
    pub waiters: Waiters,
}

/// What we know of the request a callback answers.
#[derive(Debug, PartialEq, Eq)]
enum Known {
    /// Ours, still waiting: file the answer under `id`, for `plate`.
    Pending {
        id: String,
        plate: String,
        submitted_at: i64,
    },
    /// Ours, answered already: a duplicate.
    Answered,
    /// Not a query we made (or one long forgotten): never stored.
    Unknown,
}

/// Why a delivery was refused (logged; the vendor only sees `fail`).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    MissingField(&'static str),
    UnknownAppid,
    BadTime,
    /// Authentic, but `time` is outside `max_clock_skew` (`late`: in the past).
    Stale {
        skew_secs: i64,
        time: i64,
        late: bool,
    },
    BadSignature,
}

impl Webhook {
    fn max_skew_secs(&self) -> i64 {
        i64::try_from(self.max_clock_skew.as_secs()).unwrap_or(i64::MAX)
    }

    /// What a callback answers: one of our queries already answered, one still waiting
    /// (by our echoed reference first, then the vendor's id), or nothing we know.
    async fn known(&self, vendor_id: &str, our_ref: Option<&str>) -> Result<Known, StoreError> {
        let ids: Vec<&str> = our_ref
            .into_iter()
            .chain(std::iter::once(vendor_id))
            .filter(|id| !id.is_empty())
            .collect();
        // Answered first: a redelivery must never be stored a second time, whatever
        // is left pending under the query's other id.
        for id in &ids {
            if self.store.result_for_request(id).await?.is_some() {
                return Ok(Known::Answered);
            }
        }
        for id in &ids {
            if let Some(p) = self.store.pending(id).await? {
                return Ok(Known::Pending {
                    id: (*id).to_owned(),
                    plate: p.plate,
                    submitted_at: p.submitted_at,
                });
            }
        }
        Ok(Known::Unknown)
    }

    /// Verifies a delivery's authenticity and freshness.
    pub fn verify(&self, form: &HashMap<String, String>, now_secs: i64) -> Result<(), Refusal> {
        let field = |k: &'static str| {
            form.get(k)
                .map(String::as_str)
                .ok_or(Refusal::MissingField(k))
        };
        let time = field("time")?;
        let appid = field("appid")?;
        let sign = field("sign")?;
        field("request_id")?;
        field("response")?;
        if appid != self.appid {
            return Err(Refusal::UnknownAppid);
        }
        let t: i64 = time.trim().parse().map_err(|_| Refusal::BadTime)?;
        let expected = connector::signing::md5_time_appid_secret(time, appid, self.secret.expose());
        if !connector::signing::constant_time_eq(
            sign.trim().to_ascii_lowercase().as_bytes(),
            expected.as_bytes(),
        ) {
            return Err(Refusal::BadSignature);
        }
        let skew = (now_secs - t).abs();
        if skew > self.max_skew_secs() {
            return Err(Refusal::Stale {
                skew_secs: skew,
                time: t,
                late: t < now_secs,
            });
        }
        Ok(())
    }
}

async fn deliver(
    State(hook): State<Arc<Webhook>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let sandbox = headers
        .get(connector::client::SANDBOX_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // Authenticity first: nothing unauthenticated reaches the store.
    let verdict = hook.verify(&form, now);
    let late_time = match verdict {
        Ok(()) => None,
        Err(Refusal::Stale {
            time, late: true, ..
        }) => Some(time),
        Err(why) => {
            tracing::warn!(?why, "platecb callback refused");
            let status = match why {
                Refusal::MissingField(_) | Refusal::BadTime => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            return (status, "fail");
        }
    };
    let (vendor_id, our_ref) = super::callback_ids(
        form.get("request_id").map_or("", String::as_str),
        form.get("request").map(String::as_str),
    );
    let (request_id, plate) = match hook.known(&vendor_id, our_ref.as_deref()).await {
        Ok(Known::Pending {
            id,
            plate,
            submitted_at,
        }) => {
            // A late delivery is a retry only if it is no older than our submission:
            // a signature captured before we asked cannot answer what we asked.
            if let Some(time) = late_time {
                if time < submitted_at - hook.max_skew_secs() {
                    tracing::warn!(request_id = %id, "stale platecb callback refused (older than the submission)");
                    return (StatusCode::FORBIDDEN, "fail");
                }
                tracing::info!(request_id = %id, "late platecb callback for a pending request accepted");
            }
            (id, plate)
        }
        Ok(Known::Answered) => {
            tracing::info!(%vendor_id, "duplicate platecb callback acknowledged; nothing changed");
            return (StatusCode::OK, "success");
        }
        Ok(Known::Unknown) => {
            // The signature covers only time and appid, not the data: a callback for a
            // query we did not make could carry anything, so it is never stored.
            tracing::warn!(%vendor_id, "platecb callback for a request Axle did not make refused");
            return (StatusCode::FORBIDDEN, "fail");
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a platecb callback's request");
            return (StatusCode::SERVICE_UNAVAILABLE, "fail");
        }
    };
    let payload = form.get("response").cloned().unwrap_or_default();
    if super::transformers::result_status(&payload) == Some(super::transformers::STATUS_QUERYING) {
        // Interim: acknowledged so the platform does not redeliver it; not stored, so the
        // final answer for this request is not shadowed.
        tracing::info!(%request_id, "platecb says the query is still running");
        return (StatusCode::OK, "success");
    }
    match hook
        .store
        .insert_result(&request_id, &vendor_id, &plate, &payload, sandbox)
        .await
    {
        Ok(new) => {
            tracing::info!(%request_id, duplicate = !new, "platecb callback stored");
            hook.waiters.wake(&plate);
            (StatusCode::OK, "success")
        }
        Err(e) => {
            // Not stored: say so, and the platform will deliver again.
            tracing::error!(error = %e, %request_id, "cannot store platecb callback");
            (StatusCode::SERVICE_UNAVAILABLE, "fail")
        }
    }
}

pub fn router(hook: Webhook) -> Router {
    Router::new()
        .route(PATH, post(deliver))
        .with_state(Arc::new(hook))
}

/// Serves the webhook until `stop` resolves: the gRPC server's end, not the shutdown
/// signal, because lookups still in flight during the drain wait for callbacks here.
pub async fn serve(
    addr: SocketAddr,
    hook: Webhook,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(hook);
    let task = tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "platecb webhook server failed");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Webhook {
        let path =
            std::env::temp_dir().join(format!("axle-webhook-unit-{}.sqlite", std::process::id()));
        Webhook {
            appid: "1365".into(),
            secret: Secret::new("s3cret".into()),
            max_clock_skew: Duration::from_secs(600),
            store: CallbackStore::open(&path).expect("store"),
            waiters: Waiters::default(),
        }
    }

    fn form(time: i64, appid: &str, sign: &str) -> HashMap<String, String> {
        [
            ("time", time.to_string()),
            ("appid", appid.to_owned()),
            ("sign", sign.to_owned()),
            ("request_id", "r".to_owned()),
            ("response", "{}".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn verification_rules() {
        let h = hook();
        let now = 1_700_000_000;
        let good = connector::signing::md5_time_appid_secret(&now.to_string(), "1365", "s3cret");
        assert_eq!(h.verify(&form(now, "1365", &good), now), Ok(()));
        assert_eq!(
            h.verify(&form(now, "1365", &good.to_uppercase()), now),
            Ok(())
        );
        assert_eq!(
            h.verify(&form(now, "9999", &good), now),
            Err(Refusal::UnknownAppid)
        );
        assert_eq!(
            h.verify(&form(now, "1365", "0000"), now),
            Err(Refusal::BadSignature)
        );
        let old = now - 3600;
        let old_sign =
            connector::signing::md5_time_appid_secret(&old.to_string(), "1365", "s3cret");
        assert_eq!(
            h.verify(&form(old, "1365", &old_sign), now),
            Err(Refusal::Stale {
                skew_secs: 3600,
                time: old,
                late: true
            })
        );
        // A stale time with a bad signature is a forgery first: it never gets to the
        // late-retry path.
        assert_eq!(
            h.verify(&form(old, "1365", &good), now),
            Err(Refusal::BadSignature)
        );
        let future = now + 3600;
        let future_sign =
            connector::signing::md5_time_appid_secret(&future.to_string(), "1365", "s3cret");
        assert!(matches!(
            h.verify(&form(future, "1365", &future_sign), now),
            Err(Refusal::Stale { late: false, .. })
        ));
        let mut missing = form(now, "1365", &good);
        missing.remove("response");
        assert_eq!(
            h.verify(&missing, now),
            Err(Refusal::MissingField("response"))
        );
    }
}
