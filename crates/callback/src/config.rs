//! The callback stack in a service's configuration file: one section per async vendor
//! with its store, webhook listener and times, so that every vendor that answers by
//! callback is configured alike (violation-service's `[vendors.apistore.callback]`).
//! platecb keeps its earlier flat keys and shares the pieces ([`WebhookLimits`],
//! [`optional_duration`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use settings::Secret;

use crate::flow::settings::Settings;
use crate::webhook::WebhookSettings;
use crate::webhook::server::ServerLimits;

/// One async vendor's callback stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    /// Where the vendor should deliver answers: the webhook as reachable from the vendor
    /// (`webhook_listen` behind the ingress). Empty: derived from `webhook_listen`, right
    /// for the sandbox and local runs only.
    pub callback_url: String,
    /// HTTP listener of the webhook.
    pub webhook_listen: SocketAddr,
    /// What one client may make the webhook listener hold (it faces the internet).
    pub webhook_limits: WebhookLimits,
    /// Callbacks whose `time` is further than this from our clock are refused (replays),
    /// except a late retry of a query we submitted and have no answer for.
    #[serde(with = "settings::duration")]
    pub max_clock_skew: Duration,
    /// SQLite file of answers and submissions (when `store_url` is empty).
    pub store_path: PathBuf,
    /// PostgreSQL URL for a store shared by every replica; empty uses the SQLite file.
    /// Never printed.
    pub store_url: Secret<String>,
    /// A stored answer younger than this is returned instead of asking (and paying) again.
    #[serde(with = "settings::duration")]
    pub result_ttl: Duration,
    /// An accepted submission younger than this is awaited instead of submitted again.
    #[serde(with = "settings::duration")]
    pub pending_ttl: Duration,
    /// Longest a caller waits for the answer, even when its deadline is later: then PENDING.
    #[serde(with = "settings::duration")]
    pub max_wait: Duration,
    /// Deadline of one submission (all its HTTP attempts); it runs to its end even when
    /// the caller that started it has gone, so that a paid query is never half-known.
    #[serde(with = "settings::duration")]
    pub submit_timeout: Duration,
    /// A claim whose process died unsettled counts as unclear after this (>= submit_timeout
    /// + 5s), and is taken over `unclear_resubmit_after` later.
    #[serde(with = "settings::duration")]
    pub submit_window: Duration,
    /// After a submission that may or may not have arrived, how long nobody submits the
    /// same query again.
    #[serde(with = "settings::duration")]
    pub unclear_resubmit_after: Duration,
    /// How often a waiting caller looks in the store for what another replica received.
    #[serde(with = "settings::duration")]
    pub poll_interval: Duration,
    /// What a caller told PENDING hears about when to ask again.
    #[serde(with = "settings::duration")]
    pub pending_retry_after: Duration,
    /// How many of a key's newest stored answers are looked at for one to reuse.
    pub reuse_candidates: u32,
    /// How long submissions are remembered; a callback for a forgotten one is refused.
    #[serde(with = "settings::duration")]
    pub keep_submissions: Duration,
    /// How long answers are kept; absent (or "off") keeps every answer.
    #[serde(
        default,
        with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_results: Option<Duration>,
    /// How often the store is purged of what can no longer decide anything.
    #[serde(with = "settings::duration")]
    pub purge_interval: Duration,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self::new(SocketAddr::from(([127, 0, 0, 1], 0)), PathBuf::new())
    }
}

impl CallbackConfig {
    /// The callback stack's defaults with a vendor's own listener and store file.
    pub fn new(webhook_listen: SocketAddr, store_path: PathBuf) -> Self {
        let cb = Settings::default();
        Self {
            callback_url: String::new(),
            webhook_listen,
            webhook_limits: WebhookLimits::default(),
            max_clock_skew: WebhookSettings::default().max_clock_skew,
            store_path,
            store_url: Secret::new(String::new()),
            result_ttl: cb.result_ttl,
            pending_ttl: cb.pending_ttl,
            max_wait: cb.max_wait,
            submit_timeout: cb.submit_timeout,
            submit_window: cb.submit_window,
            unclear_resubmit_after: cb.unclear_resubmit_after,
            poll_interval: cb.poll_interval,
            pending_retry_after: cb.pending_retry_after,
            reuse_candidates: cb.reuse_candidates,
            keep_submissions: cb.keep_submissions,
            keep_results: cb.keep_results,
            purge_interval: Duration::from_secs(3600),
        }
    }

    /// The flow's settings.
    pub fn settings(&self) -> Settings {
        Settings {
            result_ttl: self.result_ttl,
            pending_ttl: self.pending_ttl,
            max_wait: self.max_wait,
            submit_timeout: self.submit_timeout,
            submit_window: self.submit_window,
            unclear_resubmit_after: self.unclear_resubmit_after,
            poll_interval: self.poll_interval,
            pending_retry_after: self.pending_retry_after,
            reuse_candidates: self.reuse_candidates,
            keep_submissions: self.keep_submissions,
            keep_results: self.keep_results,
        }
    }

    pub fn webhook_settings(&self) -> WebhookSettings {
        WebhookSettings {
            max_clock_skew: self.max_clock_skew,
            ..WebhookSettings::default()
        }
    }

    /// Values that parse but cannot work, by key relative to this section.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.settings().validate() {
            out.push((e.field.to_owned(), e.problem));
        }
        if let Err(e) = self.webhook_limits.server_limits().validate() {
            out.push(("webhook_limits".to_owned(), e));
        }
        if self.max_clock_skew.is_zero() {
            out.push((
                "max_clock_skew".to_owned(),
                "must be more than zero (every callback would be refused)".to_owned(),
            ));
        }
        if self.purge_interval < Duration::from_secs(1) {
            out.push((
                "purge_interval".to_owned(),
                "must be at least 1s".to_owned(),
            ));
        }
        out
    }
}

/// The webhook listener's bounds (see [`ServerLimits`]), in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookLimits {
    /// A request's head must arrive within this; an idle keep-alive connection is
    /// closed after it too.
    #[serde(with = "settings::duration")]
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
    /// A request's body must arrive within this after its head (408 beyond).
    #[serde(with = "settings::duration")]
    pub body_read_timeout: Duration,
    /// Largest body, in bytes (413 beyond; a callback is a few kilobytes).
    pub max_body_bytes: usize,
    /// Longest a request may take, body and handling (503 beyond).
    #[serde(with = "settings::duration")]
    pub request_timeout: Duration,
    /// Connections served at once; beyond, 503 and closed.
    pub max_connections: usize,
    /// On stop, how long requests in flight may still take: a hard bound.
    #[serde(with = "settings::duration")]
    pub shutdown_grace: Duration,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self::from(&ServerLimits::default())
    }
}

impl From<&ServerLimits> for WebhookLimits {
    fn from(l: &ServerLimits) -> Self {
        Self {
            header_read_timeout: l.header_read_timeout,
            max_header_bytes: l.max_header_bytes,
            body_read_timeout: l.body_read_timeout,
            max_body_bytes: l.max_body_bytes,
            request_timeout: l.request_timeout,
            max_connections: l.max_connections,
            shutdown_grace: l.shutdown_grace,
        }
    }
}

impl WebhookLimits {
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: self.header_read_timeout,
            max_header_bytes: self.max_header_bytes,
            body_read_timeout: self.body_read_timeout,
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

/// An optional duration for serde's `with`: absent (or "off") is `None`, else "720h"
/// and the like.
pub mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands the field by reference
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&settings::duration::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        settings::duration::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flows_and_valid() {
        let cfg = CallbackConfig::default();
        assert_eq!(cfg.settings(), Settings::default());
        assert_eq!(cfg.webhook_limits.server_limits(), ServerLimits::default());
        assert_eq!(cfg.webhook_settings(), WebhookSettings::default());
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    }

    #[test]
    fn a_section_parses_and_bad_values_are_named() {
        let cfg: CallbackConfig = toml::from_str(
            r#"
            result_ttl = "6h"
            keep_results = "off"
            [webhook_limits]
            max_connections = 0
            "#,
        )
        .expect("parses");
        assert_eq!(cfg.result_ttl, Duration::from_secs(6 * 3600));
        assert_eq!(cfg.keep_results, None);
        let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["webhook_limits"]);
        let err = toml::from_str::<CallbackConfig>("no_such_key = 1").expect_err("unknown");
        assert!(err.to_string().contains("no_such_key"), "{err}");
        let err = toml::from_str::<CallbackConfig>(r#"keep_results = "30""#).expect_err("unit");
        assert!(err.to_string().contains("unit"), "{err}");
    }
}
