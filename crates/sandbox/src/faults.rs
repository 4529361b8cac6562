//! Fault injection shared by every vendor: latency, vendor error codes, HTTP status
//! faults, malformed and slow bodies, connection resets.
//!
//! Rules come from configuration (`[[faults]]`), from the admin API
//! (`/_sandbox/faults`), or from one request's `x-sandbox-fault` header. For a request
//! without the header, every matching rule is drawn in order: the latencies of the rules
//! that fire add up, and the first firing rule that has an action decides the action.
//! The header replaces the rules for its request. One seeded RNG makes probabilities and
//! latency draws reproducible for a given request sequence.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::calls::outcome;
use crate::params::request_params;
use crate::server::ConnHandle;
use crate::state::{AppState, lock};
use crate::vendors::{self, VendorCode};
use crate::{FAULT_HEADER, SandboxError};

/// Largest request body the fault layer buffers (apihz accepts base64 images up to 1 MB).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// z-score of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// One fault rule. Empty matchers match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Free text shown in logs and `GET /_sandbox/faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor name, e.g. `connapi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Request path prefix, e.g. `/api/vin/get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Exact value of the request parameter `key` (query, form or JSON body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value of the request parameter `vin`, compared trimmed and case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// Chance in 0..=1 that a matching request triggers the rule.
    #[serde(default = "always", skip_serializing_if = "is_always")]
    pub probability: f64,
    /// The rule triggers at most this many times (e.g. "fail twice, then recover").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<FaultAction>,
}

fn always() -> f64 {
    1.0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_always(p: &f64) -> bool {
    (*p - 1.0).abs() < f64::EPSILON
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            name: None,
            vendor: None,
            path_prefix: None,
            key: None,
            vin: None,
            probability: always(),
            times: None,
            latency: None,
            action: None,
        }
    }
}

/// Added delay before the request is handled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    Fixed {
        ms: u64,
    },
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
    /// Log-normal through the given median and 99th percentile: the long right tail of a
    /// real vendor. Draws are capped at `max_ms` (default 10 × p99) to keep tests bounded.
    LogNormal {
        p50_ms: u64,
        p99_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
}

/// What happens instead of (or to) the vendor's normal answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// The vendor's own error envelope with this code (HTTP 200, like the vendor).
    VendorCode {
        code: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg: Option<String>,
    },
    /// A gateway-level HTTP error such as 429 or 503, before the vendor logic runs.
    HttpStatus {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// The real answer, cut short: valid HTTP, invalid JSON. Default: half the body.
    Malformed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        truncate_at: Option<usize>,
    },
    /// The real answer, headers at once, then the body `chunk_bytes` at a time every
    /// `interval_ms` (first chunk after one interval).
    SlowBody {
        #[serde(default = "default_chunk")]
        chunk_bytes: usize,
        #[serde(default = "default_interval")]
        interval_ms: u64,
    },
    /// The connection is dropped (TCP RST) after the request is read; no response.
    Reset {},
}

fn default_chunk() -> usize {
    16
}
fn default_interval() -> u64 {
    200
}

impl FaultRule {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(format!("probability {} not in 0..=1", self.probability));
        }
        match self.latency {
            Some(Latency::Uniform { min_ms, max_ms }) if min_ms > max_ms => {
                return Err(format!("uniform latency min_ms {min_ms} > max_ms {max_ms}"));
            }
            Some(Latency::LogNormal { p50_ms, p99_ms, .. }) if p50_ms == 0 || p50_ms > p99_ms => {
                return Err(format!(
                    "log_normal latency needs 0 < p50_ms <= p99_ms, got {p50_ms}, {p99_ms}"
                ));
            }
            _ => {}
        }
        match &self.action {
            // A vendor fault is an error answer: 1xx/2xx/3xx would not be read as one
            // (and 1xx is not even a final response).
            Some(FaultAction::HttpStatus { status, .. })
                if !(400..=599).contains(status) || StatusCode::from_u16(*status).is_err() =>
            {
                Err(format!("invalid HTTP status {status}"))
            }
            Some(FaultAction::SlowBody { chunk_bytes: 0, .. }) => {
                Err("slow_body chunk_bytes must be > 0".to_owned())
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, req: &MatchCtx<'_>) -> bool {
        let eq_opt = |want: &Option<String>, got: Option<&str>, fold: bool| {
            want.as_deref().is_none_or(|w| {
                got.is_some_and(|g| {
                    if fold {
                        w.trim().eq_ignore_ascii_case(g.trim())
                    } else {
                        w == g
                    }
                })
            })
        };
        eq_opt(&self.vendor, Some(req.vendor), true)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| req.path.starts_with(p))
            && eq_opt(&self.key, req.key, false)
            && eq_opt(&self.vin, req.vin, true)
    }
}

/// What the fault layer knows about a request when it draws.
#[derive(Debug)]
pub(crate) struct MatchCtx<'a> {
    pub(crate) vendor: &'a str,
    pub(crate) path: &'a str,
    pub(crate) key: Option<&'a str>,
    pub(crate) vin: Option<&'a str>,
}

/// The drawn outcome for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) delay: Duration,
    pub(crate) action: Option<FaultAction>,
    pub(crate) fired: Vec<String>,
}

/// The active rules, how often each fired, and the RNG.
#[derive(Debug)]
pub(crate) struct FaultBook {
    seed: u64,
    rules: Vec<FaultRule>,
    fired: Vec<u64>,
    rng: StdRng,
}

/// `GET /_sandbox/faults` body; `rules` can be posted back as is.
#[derive(Debug, Serialize)]
pub(crate) struct FaultsReport<'a> {
    seed: u64,
    rules: &'a [FaultRule],
    /// How many times each rule (same index) fired since it was set.
    fired: &'a [u64],
}

impl FaultBook {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> Result<Self, SandboxError> {
        for (i, r) in rules.iter().enumerate() {
            r.validate()
                .map_err(|e| SandboxError::Config(format!("fault rule #{i}: {e}")))?;
        }
        Ok(Self {
            seed,
            fired: vec![0; rules.len()],
            rules,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    pub(crate) fn empty(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
            fired: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn report_len(&self) -> usize {
        self.rules.len()
    }

    pub(crate) fn report(&self) -> FaultsReport<'_> {
        FaultsReport {
            seed: self.seed,
            rules: &self.rules,
            fired: &self.fired,
        }
    }

    /// Draws the faults for one request; `header` (the per-request rule) replaces the
    /// configured rules.
    pub(crate) fn plan(&mut self, req: &MatchCtx<'_>, header: Option<&FaultRule>) -> Plan {
        let mut plan = Plan::default();
        if let Some(rule) = header {
            if rule.matches(req) && draw(&mut self.rng, rule.probability) {
                apply(&mut plan, rule, &mut self.rng, "x-sandbox-fault");
            }
            return plan;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let exhausted = rule.times.is_some_and(|t| self.fired[i] >= t);
            // A second action cannot apply, so such a rule neither draws nor counts.
            let redundant =
                rule.latency.is_none() && rule.action.is_some() && plan.action.is_some();
            if exhausted
                || redundant
                || !rule.matches(req)
                || !draw(&mut self.rng, rule.probability)
            {
                continue;
            }
            self.fired[i] += 1;
            let label = rule.name.clone().unwrap_or_else(|| format!("rule#{i}"));
            apply(&mut plan, rule, &mut self.rng, &label);
        }
        plan
    }
}

fn draw(rng: &mut StdRng, p: f64) -> bool {
    // Certain outcomes consume no randomness, so adding a fixed rule does not shift the
    // draws of the probabilistic ones.
    if p >= 1.0 {
        true
    } else if p <= 0.0 {
        false
    } else {
        rng.random::<f64>() < p
    }
}

fn apply(plan: &mut Plan, rule: &FaultRule, rng: &mut StdRng, label: &str) {
    if let Some(l) = rule.latency {
        plan.delay += sample(l, rng);
    }
    if plan.action.is_none() {
        plan.action.clone_from(&rule.action);
    }
    plan.fired.push(label.to_owned());
}

#[expect(
    clippy::cast_precision_loss,
    reason = "millisecond values far below 2^52"
)]
fn sample(l: Latency, rng: &mut StdRng) -> Duration {
    match l {
        Latency::Fixed { ms } => Duration::from_millis(ms),
        Latency::Uniform { min_ms, max_ms } => {
            Duration::from_millis(rng.random_range(min_ms..=max_ms))
        }
        Latency::LogNormal {
            p50_ms,
            p99_ms,
            max_ms,
        } => {
            let mu = (p50_ms as f64).ln();
            let sigma = ((p99_ms as f64).ln() - mu) / Z_P99;
            // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let cap = max_ms.unwrap_or(p99_ms.saturating_mul(10)) as f64;
            Duration::from_secs_f64((mu + sigma * z).exp().min(cap) / 1000.0)
        }
    }
}

/// Parses the `x-sandbox-fault` header: either a JSON [`FaultRule`], or directives
/// separated by `;` or `,`:
///
/// - `delay=200` (ms), `delay=100..300` (uniform), `delay=lognormal:100:800` (p50:p99)
/// - `code=500` (vendor error code), `status=429` with optional `retry-after=2`
/// - `malformed` or `malformed=40` (truncate the body to 40 bytes)
/// - `slow` or `slow=16:200` (16 bytes every 200 ms)
/// - `reset`
/// - `p=0.3` (probability, drawn from the seeded RNG)
pub fn parse_fault_header(text: &str) -> Result<FaultRule, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let rule: FaultRule = serde_json::from_str(text).map_err(|e| e.to_string())?;
        rule.validate()?;
        return Ok(rule);
    }
    let mut rule = FaultRule::default();
    let mut actions = Vec::new();
    let mut status = None;
    let mut retry_after = None;
    for token in text
        .split([';', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (name, value) = match token.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (token.to_ascii_lowercase(), None),
        };
        let need = || value.ok_or_else(|| format!("`{name}` needs a value"));
        match name.as_str() {
            "delay" | "latency" => rule.latency = Some(parse_latency(need()?)?),
            "code" => actions.push(FaultAction::VendorCode {
                code: num(need()?)?,
                msg: None,
            }),
            "status" => status = Some(num(need()?)?),
            "retry-after" | "retry_after" => retry_after = Some(num(need()?)?),
            "malformed" => actions.push(FaultAction::Malformed {
                truncate_at: value.map(num).transpose()?,
            }),
            "slow" => {
                let (chunk_bytes, interval_ms) = match value {
                    None => (default_chunk(), default_interval()),
                    Some(v) => {
                        let (c, i) = v
                            .split_once(':')
                            .ok_or_else(|| format!("slow wants BYTES:MS, got `{v}`"))?;
                        (num(c)?, num(i)?)
                    }
                };
                actions.push(FaultAction::SlowBody {
                    chunk_bytes,
                    interval_ms,
                });
            }
            "reset" => actions.push(FaultAction::Reset {}),
            "p" | "probability" => {
                rule.probability = need()?
                    .parse()
                    .map_err(|_| format!("bad probability `{token}`"))?;
            }
            other => return Err(format!("unknown directive `{other}`")),
        }
    }
    match (status, retry_after) {
        (Some(status), retry_after_s) => actions.push(FaultAction::HttpStatus {
            status,
            retry_after_s,
            body: None,
        }),
        (None, Some(_)) => return Err("retry-after needs status=...".to_owned()),
        (None, None) => {}
    }
    if actions.len() > 1 {
        return Err("at most one of code, status, malformed, slow, reset".to_owned());
    }
    rule.action = actions.pop();
    rule.validate()?;
    Ok(rule)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    let s = s.trim();
    s.strip_suffix("ms")
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("not a number: `{s}`"))
}

fn parse_latency(v: &str) -> Result<Latency, String> {
    if let Some(rest) = v.strip_prefix("lognormal:") {
        let (p50, p99) = rest
            .split_once(':')
            .ok_or_else(|| format!("lognormal wants P50:P99, got `{v}`"))?;
        return Ok(Latency::LogNormal {
            p50_ms: num(p50)?,
            p99_ms: num(p99)?,
            max_ms: None,
        });
    }
    if let Some((min, max)) = v.split_once("..") {
        return Ok(Latency::Uniform {
            min_ms: num(min)?,
            max_ms: num(max)?,
        });
    }
    Ok(Latency::Fixed { ms: num(v)? })
}

/// Who the fault layer sits in front of.
#[derive(Debug, Clone)]
pub(crate) struct VendorScope {
    pub(crate) state: AppState,
    pub(crate) vendor: &'static str,
    /// Path prefix under which the vendor is also mounted (e.g. `/connapi`); stripped
    /// for call counting so both mounts count as one endpoint.
    pub(crate) alias: &'static str,
}

/// The fault layer: sits in front of each vendor's routes (not the admin API), draws
/// the plan, applies it, and counts the call with its outcome.
pub(crate) async fn layer(State(scope): State<VendorScope>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Buffered so rules can match on body parameters; handed on unchanged.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large for the sandbox",
        )
            .into_response();
    };
    let header_rule = match parts.headers.get(FAULT_HEADER) {
        None => None,
        Some(v) => match v
            .to_str()
            .map_err(|e| e.to_string())
            .and_then(parse_fault_header)
        {
            Ok(rule) => Some(rule),
            // A broken test setup must be loud, not silently fault-free.
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad {FAULT_HEADER}: {e}"))
                    .into_response();
            }
        },
    };
    let path = parts.uri.path().to_owned();
    let endpoint = path
        .strip_prefix(scope.alias)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(&path)
        .to_owned();
    let params = request_params(&parts.method, parts.uri.query(), &parts.headers, &bytes);
    let plan = lock(&scope.state.0.faults).plan(
        &MatchCtx {
            vendor: scope.vendor,
            path: &endpoint,
            key: params.get("key"),
            vin: params.get("vin"),
        },
        header_rule.as_ref(),
    );
    if !plan.fired.is_empty() {
        tracing::debug!(vendor = scope.vendor, %endpoint, delay = ?plan.delay, action = ?plan.action, fired = ?plan.fired, "fault injected");
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let conn = parts.extensions.get::<ConnHandle>().cloned();
    let req = Request::from_parts(parts, Body::from(bytes));
    let record =
        |outcome: &str| lock(&scope.state.0.calls).record(scope.vendor, &endpoint, outcome);

    match plan.action {
        None => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            res
        }
        Some(FaultAction::VendorCode { code, msg }) => {
            record(&code.to_string());
            vendors::error_response(scope.vendor, code, msg.as_deref())
        }
        Some(FaultAction::HttpStatus {
            status,
            retry_after_s,
            body,
        }) => {
            record(&outcome::http_status(status));
            http_status_response(status, retry_after_s, body)
        }
        Some(FaultAction::Reset {}) => {
            record(outcome::RESET);
            match conn {
                Some(conn) => {
                    conn.reset();
                    // The connection task drops this future together with the socket.
                    std::future::pending::<()>().await;
                    unreachable_response()
                }
                None => unreachable_response(),
            }
        }
        Some(FaultAction::Malformed { truncate_at }) => {
            let res = next.run(req).await;
            record(outcome::MALFORMED);
            let (mut parts, body) = res.into_parts();
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            // Anything shorter than a whole JSON document is invalid JSON.
            let cut = truncate_at
                .unwrap_or(full.len() / 2)
                .min(full.len().saturating_sub(1));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(full.slice(..cut)))
        }
        Some(FaultAction::SlowBody {
            chunk_bytes,
            interval_ms,
        }) => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            let (mut parts, body) = res.into_parts();
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(
                parts,
                Body::new(Dribble::new(
                    full,
                    chunk_bytes,
                    Duration::from_millis(interval_ms),
                )),
            )
        }
    }
}

fn outcome_of(res: &Response) -> String {
    res.extensions().get::<VendorCode>().map_or_else(
        || outcome::http_status(res.status().as_u16()),
        |c| c.0.to_string(),
    )
}

fn http_status_response(status: u16, retry_after_s: Option<u64>, body: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = body.unwrap_or_else(|| {
        format!(
            "{} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        )
    });
    let mut res = (status, body).into_response();
    if let Some(s) = retry_after_s {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res
}

/// Only reached when the router is served without the sandbox's accept loop, which
/// owns the connections that a reset drops.
fn unreachable_response() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "reset fault needs sandbox::start's server",
    )
        .into_response()
}

/// A body that arrives `chunk` bytes at a time, one chunk per `interval`.
#[derive(Debug)]
struct Dribble {
    rest: Bytes,
    chunk: usize,
    interval: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Dribble {
    fn new(body: Bytes, chunk: usize, interval: Duration) -> Self {
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
    use super::*;

    #[test]
    fn header_directives() {
        let r = parse_fault_header("delay=100..300; status=429; retry-after=2").expect("parses");
        assert_eq!(
            r.latency,
            Some(Latency::Uniform {
                min_ms: 100,
                max_ms: 300
            })
        );
        assert_eq!(
            r.action,
            Some(FaultAction::HttpStatus {
                status: 429,
                retry_after_s: Some(2),
                body: None
            })
        );
        let r = parse_fault_header("code=500,p=0.5").expect("parses");
        assert_eq!(
            r.action,
            Some(FaultAction::VendorCode {
                code: 500,
                msg: None
            })
        );
        assert!((r.probability - 0.5).abs() < f64::EPSILON);
        assert_eq!(
            parse_fault_header("slow=8:50").expect("parses").action,
            Some(FaultAction::SlowBody {
                chunk_bytes: 8,
                interval_ms: 50
            })
        );
        assert_eq!(
            parse_fault_header("delay=lognormal:50:400")
                .expect("parses")
                .latency,
            Some(Latency::LogNormal {
                p50_ms: 50,
                p99_ms: 400,
                max_ms: None
            })
        );
        assert_eq!(
            parse_fault_header("reset").expect("parses").action,
            Some(FaultAction::Reset {})
        );
        assert_eq!(
            parse_fault_header(r#"{"action":{"kind":"malformed","truncate_at":5}}"#)
                .expect("parses")
                .action,
            Some(FaultAction::Malformed {
                truncate_at: Some(5)
            })
        );
        for bad in [
            "code=500;reset",
            "retry-after=3",
            "bogus",
            "p=2",
            "delay=9..1",
            "status=42",
        ] {
            assert!(parse_fault_header(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn lognormal_hits_its_percentiles() {
        let mut rng = StdRng::seed_from_u64(7);
        let l = Latency::LogNormal {
            p50_ms: 100,
            p99_ms: 1000,
            max_ms: None,
        };
        let mut v: Vec<Duration> = (0..20_000).map(|_| sample(l, &mut rng)).collect();
        v.sort();
        let p50 = v[v.len() / 2].as_millis();
        let p99 = v[v.len() * 99 / 100].as_millis();
        assert!((90..=110).contains(&p50), "p50 {p50}");
        assert!((850..=1150).contains(&p99), "p99 {p99}");
        assert!(v.iter().all(|d| d.as_millis() <= 10_000));
    }

    #[test]
    fn rules_compose_and_respect_times() {
        let rules = vec![
            FaultRule {
                latency: Some(Latency::Fixed { ms: 5 }),
                ..FaultRule::default()
            },
            FaultRule {
                vin: Some("lsv".into()),
                times: Some(1),
                action: Some(FaultAction::Reset {}),
                ..FaultRule::default()
            },
            FaultRule {
                action: Some(FaultAction::VendorCode {
                    code: 501,
                    msg: None,
                }),
                ..FaultRule::default()
            },
        ];
        let mut book = FaultBook::new(rules, 1).expect("valid");
        let ctx = MatchCtx {
            vendor: "connapi",
            path: "/api/vin/get",
            key: None,
            vin: Some(" LSV "),
        };
        let first = book.plan(&ctx, None);
        assert_eq!(first.delay, Duration::from_millis(5));
        assert_eq!(first.action, Some(FaultAction::Reset {}));
        let second = book.plan(&ctx, None);
        assert_eq!(
            second.action,
            Some(FaultAction::VendorCode {
                code: 501,
                msg: None
            })
        );
        assert_eq!(book.fired, vec![2, 1, 1]);
    }
}
