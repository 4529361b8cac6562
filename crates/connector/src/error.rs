//! The error taxonomy every connector maps its vendor's failures into.

use std::time::Duration;

/// Why a vendor call did not produce an answer.
///
/// Texts never contain URLs with query strings (credentials travel there), request
/// bodies or response bodies (they carry personal data).
///
/// Serializable so that an async vendor's failed submission can be recorded once and
/// read back by every caller who joined it, on any replica (the callback store keeps it
/// as JSON: `{"error": "vendor", "code": ..., "kind": "not_found", ...}`).
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum VendorError {
    /// One attempt took longer than `request_timeout` (and all retries did too).
    #[error("vendor did not answer within {after:?}")]
    Timeout { after: Duration },
    /// The caller's deadline leaves no time for (another) attempt.
    #[error("the request deadline expired before the vendor answered")]
    DeadlineExceeded,
    /// TCP/TLS connection could not be established.
    #[error("cannot connect to the vendor: {detail}")]
    Connect { detail: String },
    /// The connection failed mid-request (reset, EOF, protocol error).
    #[error("connection to the vendor failed: {detail}")]
    Io { detail: String },
    /// The vendor answered HTTP 429.
    #[error("vendor is rate limiting us")]
    RateLimited { retry_after: Option<Duration> },
    /// Our own per-vendor rate limit has no token before the deadline.
    #[error("the configured call rate for this vendor is used up")]
    LocalRateLimited,
    /// HTTP 5xx / 408 from the vendor.
    #[error("vendor unavailable (HTTP {status})")]
    Unavailable {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// A non-retryable HTTP status (4xx other than 401/403/408/429).
    #[error("vendor answered HTTP {status}")]
    HttpStatus { status: u16 },
    /// HTTP 401/403: credentials rejected at the HTTP level.
    #[error("vendor rejected our credentials: {detail}")]
    Auth { detail: String },
    /// The body is not what the contract says.
    #[error("malformed vendor response: {detail}")]
    MalformedBody { detail: String },
    /// The body exceeded the size limit.
    #[error("vendor response exceeds the size limit")]
    BodyTooLarge,
    /// A vendor-level error code in an otherwise well-formed answer.
    #[error("vendor error {code}: {message}")]
    Vendor {
        code: String,
        message: String,
        kind: VendorErrorKind,
    },
    /// The connector cannot work with its configuration.
    #[error("connector misconfigured: {detail}")]
    Config { detail: String },
}

/// What a vendor's own error code means, across vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorErrorKind {
    /// The vendor rejected our parameters.
    InvalidRequest,
    /// The vendor has no record.
    NotFound,
    /// Balance or quota of the operator's account is used up.
    QuotaExhausted,
    /// The vendor does not say which: the interface is not enabled for the operator's
    /// account, or the account lacks permission or balance (connapi's 400, "没有开通此业务
    /// 或权限余额不足").
    NotEnabledOrNoBalance,
    /// The operator's account is suspended or disabled.
    AccountProblem,
    /// The operator's account lacks permission for this interface.
    PermissionMissing,
    /// The vendor discontinued the interface.
    Discontinued,
    /// The vendor failed internally (transient).
    VendorInternal,
    /// The vendor's own upstream failed (transient).
    UpstreamOfVendor,
    /// A code the documents do not list.
    Unknown,
}

impl VendorErrorKind {
    /// The metric label (`vendor_errors_total{kind}`), as serialised.
    pub fn label(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::QuotaExhausted => "quota_exhausted",
            Self::NotEnabledOrNoBalance => "not_enabled_or_no_balance",
            Self::AccountProblem => "account_problem",
            Self::PermissionMissing => "permission_missing",
            Self::Discontinued => "discontinued",
            Self::VendorInternal => "vendor_internal",
            Self::UpstreamOfVendor => "upstream_of_vendor",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the operator must act (credentials, account, subscription, quota): asking
    /// again changes nothing until they do.
    pub fn needs_operator(self) -> bool {
        matches!(
            self,
            Self::InvalidRequest
                | Self::QuotaExhausted
                | Self::NotEnabledOrNoBalance
                | Self::AccountProblem
                | Self::PermissionMissing
                | Self::Discontinued
        )
    }
}

impl VendorError {
    /// Whether another attempt may succeed. Account problems, bad requests and "no
    /// record" answers are final: retrying them only spends money and time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. }
            | Self::Connect { .. }
            | Self::Io { .. }
            | Self::RateLimited { .. }
            | Self::Unavailable { .. } => true,
            Self::Vendor { kind, .. } => matches!(
                kind,
                VendorErrorKind::VendorInternal | VendorErrorKind::UpstreamOfVendor
            ),
            Self::DeadlineExceeded
            | Self::LocalRateLimited
            | Self::HttpStatus { .. }
            | Self::Auth { .. }
            | Self::MalformedBody { .. }
            | Self::BodyTooLarge
            | Self::Config { .. } => false,
        }
    }

    /// The delay the vendor asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Short label for metrics (`outcome`).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Connect { .. } | Self::Io { .. } => "transport_error",
            Self::RateLimited { .. } | Self::LocalRateLimited => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::HttpStatus { .. } | Self::Auth { .. } | Self::Config { .. } => "rejected",
            Self::MalformedBody { .. } | Self::BodyTooLarge => "malformed",
            Self::Vendor { kind, .. } => match kind {
                VendorErrorKind::NotFound => "not_found",
                _ => "vendor_error",
            },
        }
    }

    /// Converts a reqwest error, dropping the URL: connapi's key travels in the query.
    pub fn from_reqwest(err: reqwest::Error, attempt_timeout: Duration) -> Self {
        let err = err.without_url();
        if err.is_timeout() {
            Self::Timeout {
                after: attempt_timeout,
            }
        } else if err.is_connect() {
            Self::Connect {
                detail: source_chain(&err),
            }
        } else if err.is_builder() {
            Self::Config {
                detail: source_chain(&err),
            }
        } else {
            Self::Io {
                detail: source_chain(&err),
            }
        }
    }
}

/// The error's message with its causes, which is where "connection reset" and
/// "connection refused" live. URLs were removed by `without_url` before this.
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = e.source();
    }
    text
}

/// Building a connector failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid base_url {url:?} for vendor {vendor}: {detail}")]
    BadBaseUrl {
        vendor: &'static str,
        url: String,
        detail: String,
    },
    #[error("invalid configuration for vendor {vendor}: {detail}")]
    BadConfig {
        vendor: &'static str,
        detail: String,
    },
    #[error("cannot build the HTTP client for vendor {vendor}: {detail}")]
    Client {
        vendor: &'static str,
        detail: String,
    },
}
