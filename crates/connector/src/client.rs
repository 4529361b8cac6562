//! The vendor HTTP client: one per vendor, shared by all requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use reqwest::header::HeaderMap;
use tracing::Instrument as _;

use crate::config::HttpClientConfig;
use crate::error::{ConnectorError, VendorError};
use crate::metrics::VendorMetrics;
use crate::ratelimit::TokenBucket;
use crate::retry::backoff;

mod response;

pub use response::{
    classify_http_status, declared_charset_to_utf8, parse_retry_after, retry_or_fail,
};

/// Largest vendor body we read. Decode answers are a few KiB; anything near this is a
/// misbehaving vendor, not data.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Header the Axle sandbox puts on every answer, so provenance can say "sandbox".
pub const SANDBOX_HEADER: &str = "x-axle-sandbox";

/// Adds headers (W3C trace context) to every outgoing request.
pub type HeaderInjector = Arc<dyn Fn(&mut HeaderMap) + Send + Sync>;

/// What every vendor client of a process shares: where its metrics go and the headers
/// every request carries (trace context). Built once per process by the `sources` crate,
/// so that no connector can forget either.
#[derive(Clone)]
pub struct ClientContext {
    metrics: VendorMetrics,
    headers: Option<HeaderInjector>,
    /// Turns true when the process begins to stop (SIGTERM).
    stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("headers", &self.headers.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientContext {
    pub fn new(metrics: VendorMetrics, headers: Option<HeaderInjector>) -> Self {
        Self {
            metrics,
            headers,
            stopping: None,
        }
    }

    /// Tells the clients when the process begins to stop (`stopping` turns true): from
    /// then on a non-idempotent call, a paid submission that runs on after its caller,
    /// begins no further attempt. One waiting out a vendor's Retry-After would otherwise
    /// hold the process's exit for as long as the grace period allows, then be abandoned
    /// unsent with its key still claimed; failing it at once frees the key for another
    /// replica (the vendor refused it: nothing was paid). Idempotent calls keep retrying:
    /// their callers are still waiting, and the drain is theirs.
    #[must_use]
    pub fn stopping_on(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// Metrics that go nowhere and no extra headers (unit tests, tools).
    pub fn noop() -> Self {
        Self::new(VendorMetrics::noop(), None)
    }
}

/// One HTTP response, body read (bounded).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the connector decided about one response.
#[derive(Debug)]
pub enum Classification<T> {
    /// An answer.
    Done(T),
    /// A retryable failure; `after` overrides the backoff (Retry-After).
    Retry {
        error: VendorError,
        after: Option<Duration>,
    },
    /// A final failure.
    Fail(VendorError),
    /// A final failure of an answer the vendor bills (it said "success" but the body
    /// could not be used): the spend is recorded all the same.
    FailBilled(VendorError),
}

/// The money one call cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub currency: String,
    /// Decimal amount.
    pub amount: f64,
}

/// A successful call.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub value: T,
    /// HTTP attempts made, the successful one included.
    pub attempts: u32,
    /// Time from the first attempt to the answer, backoff included.
    pub latency: Duration,
    /// The answer came from the Axle sandbox.
    pub sandbox: bool,
    /// What the call cost, when it is billable and a price is configured.
    pub cost: Option<Cost>,
}

/// A call that ended in `error`, with what is known about how it got there.
/// Serializable like [`VendorError`], for the same reason.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{error}")]
pub struct CallFailure {
    pub error: VendorError,
    /// HTTP attempts made (0 when none could start, e.g. the deadline had passed).
    pub attempts: u32,
    /// The last answer received came from the Axle sandbox: the failure is simulated.
    pub sandbox: bool,
}

impl CallFailure {
    /// The vendor answered that it has no record: an answer, not a failure worth a
    /// warning in the logs.
    pub fn is_no_record(&self) -> bool {
        matches!(
            self.error,
            VendorError::Vendor {
                kind: crate::VendorErrorKind::NotFound,
                ..
            }
        )
    }

    /// Logs the failure at the level it deserves (no record: info; anything else: warn).
    pub fn log(&self, vendor: &str, what: &str) {
        if self.is_no_record() {
            tracing::info!(vendor, error = %self, "{what}: no record");
        } else {
            tracing::warn!(vendor, error = %self, "{what} failed");
        }
    }
    /// A failure that happened before any HTTP attempt (bad local input, no time left).
    pub fn before_sending(error: VendorError) -> Self {
        Self {
            error,
            attempts: 0,
            sandbox: false,
        }
    }
}

impl std::ops::Deref for CallFailure {
    type Target = VendorError;
    fn deref(&self) -> &VendorError {
        &self.error
    }
}

impl From<CallFailure> for VendorError {
    fn from(f: CallFailure) -> Self {
        f.error
    }
}

/// Whether a request may be sent twice. Reads (lookups, decodes) are; submissions that
/// create a paid job are not, once the vendor may have received them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub idempotent: bool,
}

pub struct VendorClient {
    vendor: &'static str,
    http: reqwest::Client,
    config: HttpClientConfig,
    limiter: Option<TokenBucket>,
    metrics: VendorMetrics,
    injector: Option<HeaderInjector>,
    stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

impl std::fmt::Debug for VendorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorClient")
            .field("vendor", &self.vendor)
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

impl VendorClient {
    pub fn new(
        vendor: &'static str,
        cfg: &HttpClientConfig,
        ctx: &ClientContext,
    ) -> Result<Self, ConnectorError> {
        // The error shows the URL without query or credentials: someone who pasted the
        // vendor's example URL (…?key=KEY) must not find the key in the logs.
        let shown = redact_url(&cfg.base_url);
        let url = reqwest::Url::parse(&cfg.base_url).map_err(|e| ConnectorError::BadBaseUrl {
            vendor,
            url: shown.clone(),
            detail: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https")
            || url.query().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(ConnectorError::BadBaseUrl {
                vendor,
                url: shown,
                detail: "must be an http(s) URL without a query string or credentials \
                         (credentials go in the vendor's key/token/secret settings)"
                    .to_owned(),
            });
        }
        if let Some(c) = &cfg.cost_per_call
            && !(c.amount.is_finite() && c.amount >= 0.0)
        {
            return Err(ConnectorError::BadConfig {
                vendor,
                detail: format!(
                    "cost_per_call.amount must be a number of 0 or more, not {}",
                    c.amount
                ),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .user_agent(
                cfg.user_agent
                    .clone()
                    .unwrap_or_else(|| format!("axle/{}", env!("CARGO_PKG_VERSION"))),
            )
            // Vendors answer the query; a redirect would resend credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ConnectorError::Client {
                vendor,
                detail: e.without_url().to_string(),
            })?;
        Ok(Self {
            vendor,
            http,
            config: cfg.clone(),
            limiter: TokenBucket::new(&cfg.rate_limit),
            metrics: ctx.metrics.clone(),
            injector: ctx.headers.clone(),
            stopping: ctx.stopping.clone(),
        })
    }

    pub fn vendor(&self) -> &'static str {
        self.vendor
    }

    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends the request `build` makes (called once per attempt), classifies each response
    /// with `classify`, and retries retryable outcomes with backoff, never past
    /// `deadline`: no attempt starts unless some time is left, each attempt's timeout is
    /// `min(request_timeout, deadline - now)`, and a backoff that would end after the
    /// deadline is not slept. A non-idempotent operation is retried only when the
    /// request certainly did not reach the vendor (connect failures) or the vendor
    /// explicitly refused it (429/503).
    pub async fn execute<T, B, C>(
        &self,
        op: Operation,
        deadline: Option<Instant>,
        build: B,
        classify: C,
    ) -> Result<Outcome<T>, CallFailure>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(&RawResponse) -> Classification<T>,
    {
        let started = Instant::now();
        let mut rng = SmallRng::from_rng(&mut rand::rng());
        let max_attempts = self.config.retry.max_attempts.max(1);
        let mut attempt = 0;
        // Requests that actually went out (an attempt refused before sending, for want
        // of time or of a rate-limit token, is not one).
        let mut sent = 0;
        // Whether the last answer that got through came from the sandbox: its errors are
        // simulated too, and say so.
        let mut sandbox = false;
        let mut billed = false;
        let result = loop {
            attempt += 1;
            let mut went_out = false;
            let outcome = self
                .attempt(op, attempt, deadline, &build, &classify, &mut went_out)
                .await;
            if went_out {
                sent += 1;
            }
            if let Ok((_, from_sandbox)) = &outcome {
                sandbox = *from_sandbox;
            }
            let (error, after) = match outcome {
                Ok((Classification::Done(value), _)) => break Ok(value),
                Ok((Classification::Fail(e), _)) => break Err(e),
                Ok((Classification::FailBilled(e), _)) => {
                    billed = true;
                    break Err(e);
                }
                Ok((Classification::Retry { error, after }, _)) => (error, after),
                Err(e) => {
                    let retry_after = e.retry_after();
                    (e, retry_after)
                }
            };
            if !error.is_retryable() || attempt >= max_attempts || !retry_allowed(op, &error) {
                break Err(error);
            }
            // Retry-After is a floor, not a replacement: "0" or a date in the past must not
            // turn the backoff into a tight loop.
            let backoff = backoff(&self.config.retry, attempt, &mut rng);
            let pause = after.map_or(backoff, |a| a.max(backoff));
            if deadline.is_some_and(|d| Instant::now() + pause >= d) {
                // Sleeping would only end in a deadline error; say what really failed.
                break Err(error);
            }
            // A paid submission outliving its caller begins no new attempt once the
            // process is stopping (`ClientContext::stopping_on`).
            let mut stopping = self.stopping.clone().filter(|_| !op.idempotent);
            if stopping.as_ref().is_some_and(|s| *s.borrow()) {
                tracing::info!(vendor = self.vendor, operation = op.name, attempt, error = %error, "not retrying: the process is stopping");
                break Err(error);
            }
            tracing::debug!(vendor = self.vendor, operation = op.name, attempt, ?pause, error = %error, "retrying vendor call");
            let stopped = async {
                if let Some(s) = stopping.as_mut() {
                    // The guard `wait_for` returns is not Send: dropped at once. Only a
                    // stop counts: a dropped sender (no signal any more) waits on.
                    if s.wait_for(|v| *v).await.map(|_| ()).is_ok() {
                        return;
                    }
                }
                std::future::pending::<()>().await;
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stopped => {
                    tracing::info!(vendor = self.vendor, operation = op.name, attempt, error = %error, "not retrying: the process is stopping");
                    break Err(error);
                }
            }
        };
        let latency = started.elapsed();
        match result {
            Ok(value) => {
                let cost = self.config.cost_per_call.as_ref().map(|c| Cost {
                    currency: c.currency.clone(),
                    amount: c.amount,
                });
                if let Some(c) = &cost {
                    self.metrics
                        .record_spend(self.vendor, &c.currency, c.amount);
                }
                self.metrics
                    .record_call(self.vendor, op.name, "ok", sent, latency.as_secs_f64());
                Ok(Outcome {
                    value,
                    attempts: sent,
                    latency,
                    sandbox,
                    cost,
                })
            }
            Err(e) => {
                // A code that needs the operator (credentials, quota) shows on dashboards
                // by its meaning, not only as one more failed call.
                if let VendorError::Vendor { kind, .. } = &e {
                    self.metrics.record_vendor_error(self.vendor, *kind);
                }
                // Billed though unusable: the money is spent all the same.
                if billed && let Some(c) = &self.config.cost_per_call {
                    self.metrics
                        .record_spend(self.vendor, &c.currency, c.amount);
                }
                self.metrics.record_call(
                    self.vendor,
                    op.name,
                    e.outcome(),
                    sent,
                    latency.as_secs_f64(),
                );
                Err(CallFailure {
                    error: e,
                    attempts: sent,
                    sandbox,
                })
            }
        }
    }

    /// One attempt. `Err` is a transport-level failure; `Ok` is the classification.
    async fn attempt<T, B, C>(
        &self,
        op: Operation,
        attempt: u32,
        deadline: Option<Instant>,
        build: &B,
        classify: &C,
        went_out: &mut bool,
    ) -> Result<(Classification<T>, bool), VendorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(&RawResponse) -> Classification<T>,
    {
        if let Some(limiter) = &self.limiter {
            match limiter.acquire(Instant::now(), deadline) {
                Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
                Some(_) => {}
                None => return Err(VendorError::LocalRateLimited),
            }
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // With less than this left a request (possibly billed) is sure to time out:
                // better not to send it at all.
                if left < MIN_ATTEMPT_BUDGET {
                    return Err(VendorError::DeadlineExceeded);
                }
                left.min(self.config.request_timeout)
            }
            None => self.config.request_timeout,
        };
        let deadline_bound = deadline.is_some_and(|_| timeout < self.config.request_timeout);
        // From here on the request goes out.
        *went_out = true;
        let span = tracing::info_span!(
            "vendor.call",
            otel.name = format!("{} {}", self.vendor, op.name),
            otel.kind = "client",
            vendor = self.vendor,
            operation = op.name,
            attempt,
            http.status_code = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        async {
            let mut request = build(&self.http).timeout(timeout);
            if let Some(inject) = &self.injector {
                let mut headers = HeaderMap::new();
                inject(&mut headers);
                request = request.headers(headers);
            }
            let sent = tokio::time::timeout(timeout, async {
                let mut resp = request.send().await?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await? {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Ok(Err(VendorError::BodyTooLarge));
                    }
                    body.extend_from_slice(&chunk);
                }
                let body = declared_charset_to_utf8(&headers, body);
                Ok(Ok(RawResponse {
                    status,
                    headers,
                    body: Bytes::from(body),
                }))
            })
            .await;
            let raw = match sent {
                Err(_elapsed) => Err(timeout_error(deadline_bound, timeout)),
                Ok(Err(e)) => {
                    let e: reqwest::Error = e;
                    // A connect timeout never reached the vendor: a connect failure (safe
                    // to retry even for a paid submission), not a request timeout.
                    if e.is_timeout() && !e.is_connect() {
                        Err(timeout_error(deadline_bound, timeout))
                    } else {
                        Err(VendorError::from_reqwest(e, timeout))
                    }
                }
                Ok(Ok(Err(e))) => Err(e),
                Ok(Ok(Ok(raw))) => Ok(raw),
            };
            let span = tracing::Span::current();
            match raw {
                Err(e) => {
                    span.record("outcome", e.outcome());
                    Err(e)
                }
                Ok(raw) => {
                    span.record("http.status_code", raw.status);
                    let sandbox = raw
                        .headers
                        .get(SANDBOX_HEADER)
                        .is_some_and(|v| v.as_bytes() == b"1");
                    let c = match classify(&raw) {
                        Classification::Done(v) => {
                            span.record("outcome", "ok");
                            Classification::Done(v)
                        }
                        Classification::Retry { error, after } => {
                            span.record("outcome", error.outcome());
                            Classification::Retry { error, after }
                        }
                        Classification::Fail(error) => {
                            span.record("outcome", error.outcome());
                            Classification::Fail(error)
                        }
                        Classification::FailBilled(error) => {
                            span.record("outcome", error.outcome());
                            Classification::FailBilled(error)
                        }
                    };
                    Ok((c, sandbox))
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// The least time left for which an attempt is still started.
const MIN_ATTEMPT_BUDGET: Duration = Duration::from_millis(10);

/// `url` cut at the query and with any `user:password@` removed. Credentials go first:
/// a password may itself hold `?`, `#` or `/`.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (marker, rest) = match rest.rsplit_once('@') {
        Some((_, after)) => ("***@", after),
        None => ("", rest),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match scheme {
        Some(scheme) => format!("{scheme}://{marker}{rest}"),
        None => format!("{marker}{rest}"),
    }
}

fn timeout_error(deadline_bound: bool, after: Duration) -> VendorError {
    if deadline_bound {
        VendorError::DeadlineExceeded
    } else {
        VendorError::Timeout { after }
    }
}

fn retry_allowed(op: Operation, error: &VendorError) -> bool {
    op.idempotent
        || matches!(
            error,
            VendorError::Connect { .. }
                | VendorError::RateLimited { .. }
                | VendorError::Unavailable { status: 503, .. }
        )
}

#[cfg(test)]
mod tests;
