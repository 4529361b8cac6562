//! Per-vendor HTTP settings, embedded in each service's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use settings::duration;

/// How to reach one vendor and how hard to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    /// Scheme, host and port (and path prefix, if any) of the vendor, e.g.
    /// `http://a.connapi.com`, or the sandbox.
    pub base_url: String,
    /// TCP (and TLS) connect timeout.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Timeout of one attempt; also never beyond the caller's deadline.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub rate_limit: RateLimitConfig,
    /// Price of one billable (successful) call, for spend accounting.
    pub cost_per_call: Option<CostConfig>,
    /// User-Agent header; defaults to `axle/<version>`.
    pub user_agent: Option<String>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            rate_limit: RateLimitConfig::default(),
            cost_per_call: None,
            user_agent: None,
        }
    }
}

/// Exponential backoff with jitter for retryable failures ("Exponential Backoff And
/// Jitter", AWS Architecture Blog, 2015: full jitter spreads retries best).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. 1 disables retries.
    pub max_attempts: u32,
    #[serde(with = "duration")]
    pub initial_backoff: Duration,
    #[serde(with = "duration")]
    pub max_backoff: Duration,
    pub multiplier: f64,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            multiplier: 2.0,
            jitter: Jitter::Full,
        }
    }
}

/// How the backoff is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// Uniform in `[0, backoff]`.
    Full,
    /// `backoff / 2` plus uniform in `[0, backoff / 2]`.
    Equal,
    /// Exactly `backoff` (tests, or vendors that demand fixed spacing).
    None,
}

/// Token bucket: `per_second` sustained, `burst` at once. `per_second = 0` disables it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 0.0,
            burst: 1,
        }
    }
}

/// The price of one billable call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// ISO 4217, e.g. "CNY".
    pub currency: String,
    /// Decimal amount, e.g. 0.5.
    pub amount: f64,
}
