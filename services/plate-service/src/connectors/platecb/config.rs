//! platecb's configuration: the vendor account and HTTP client, the webhook, and the
//! callback stack's times (`callback::Settings`) and server bounds
//! (`callback::webhook::ServerLimits`), in the service's file format.

use std::path::PathBuf;
use std::time::Duration;

use callback::Settings;
pub use callback::config::WebhookLimits;
use callback::config::optional_duration;
use callback::webhook::WebhookSettings;
use connector::config::HttpClientConfig;
use serde::{Deserialize, Serialize};
use settings::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatecbConfig {
    pub enabled: bool,
    pub http: HttpClientConfig,
    /// Path of the submit endpoint under `http.base_url` (the platform shows it after login).
    pub submit_path: String,
    pub appid: String,
    /// The app secret: signs submissions and verifies callbacks. Never printed.
    pub secret: Secret<String>,
    /// Where the platform should deliver answers: this service's webhook as reachable
    /// from the vendor (`webhook_listen` behind the ingress). Empty: derived from
    /// `webhook_listen`.
    pub callback_url: String,
    /// HTTP listener for the webhook (`POST /webhooks/platecb`).
    pub webhook_listen: std::net::SocketAddr,
    /// What one client may make the webhook listener hold (it faces the internet).
    pub webhook_limits: WebhookLimits,
    /// Callbacks whose `time` is further than this from our clock are refused (replays),
    /// except a late retry of a query we submitted and have no answer for.
    #[serde(with = "settings::duration")]
    pub max_clock_skew: Duration,
    /// SQLite file holding delivered answers and submissions (when `store_url` is empty).
    pub store_path: PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host/db`) for a store shared by every
    /// replica; empty uses the SQLite file. Never printed.
    pub store_url: Secret<String>,
    /// A stored answer younger than this is returned instead of asking (and paying) again.
    #[serde(with = "settings::duration")]
    pub result_ttl: Duration,
    /// An accepted submission younger than this is awaited instead of submitted again.
    #[serde(with = "settings::duration")]
    pub pending_ttl: Duration,
    /// Longest a lookup waits for the callback, even when the caller's deadline is later:
    /// past it the source is reported PENDING and the other sources' answers go out.
    #[serde(with = "settings::duration")]
    pub max_wait: Duration,
    /// Deadline of one submission (all its HTTP attempts). It runs to its end even when
    /// the lookup that started it has gone, so that a paid query is never half-known.
    #[serde(with = "settings::duration")]
    pub submit_timeout: Duration,
    /// A claim whose process died before it said how its submission went counts as
    /// unclear after this, and is taken over `unclear_resubmit_after` later (the process
    /// may have died with the request on the wire). At least `submit_timeout` + 5 s, or a
    /// slow submission could be paid twice.
    #[serde(with = "settings::duration")]
    pub submit_window: Duration,
    /// After a submission that may or may not have reached platecb (connection reset,
    /// no answer in time), how long nobody submits the plate again: lookups are told at
    /// once that it may not have arrived, and a callback for it is still taken.
    #[serde(with = "settings::duration")]
    pub unclear_resubmit_after: Duration,
    /// How often a waiting lookup looks in the store for what another replica received
    /// (lookups on this replica are woken at once).
    #[serde(with = "settings::duration")]
    pub poll_interval: Duration,
    /// What a lookup told PENDING hears about when to ask again.
    #[serde(with = "settings::duration")]
    pub pending_retry_after: Duration,
    /// How many of a plate's newest stored answers are looked at for one to reuse (a
    /// newer failed answer must not hide an older good one).
    pub reuse_candidates: u32,
    /// How long submissions are remembered; a callback for a forgotten one is refused.
    #[serde(with = "settings::duration")]
    pub keep_submissions: Duration,
    /// How long answers are kept; absent keeps every answer (each one was paid for).
    #[serde(
        default,
        with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_results: Option<Duration>,
    /// How often the store is purged of what can no longer decide anything.
    #[serde(with = "settings::duration")]
    pub purge_interval: Duration,
    /// How far its answers are trusted (it states no confidence of its own).
    pub confidence: f32,
}

impl Default for PlatecbConfig {
    fn default() -> Self {
        // The callback stack's own defaults, so the two cannot drift apart.
        let cb = Settings::default();
        Self {
            enabled: true,
            http: HttpClientConfig {
                base_url: "http://127.0.0.1:50080".to_owned(),
                request_timeout: Duration::from_secs(3),
                ..HttpClientConfig::default()
            },
            submit_path: "/platecb/api/query".to_owned(),
            appid: "1365".to_owned(),
            secret: Secret::new("sandbox-platecb-secret".to_owned()),
            // Empty: derived from `webhook_listen` (right for the sandbox and local runs;
            // set the public URL in production).
            callback_url: String::new(),
            webhook_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 50062)),
            webhook_limits: WebhookLimits::default(),
            max_clock_skew: WebhookSettings::default().max_clock_skew,
            store_path: PathBuf::from("var/plate-service/callbacks.sqlite"),
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
            confidence: 0.85,
        }
    }
}

impl PlatecbConfig {
    /// The callback stack's settings.
    pub fn callback_settings(&self) -> Settings {
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

    /// Values that parse but cannot work, by key (relative to this section). A disabled
    /// vendor's settings are still checked: switching it on must not be what breaks.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.callback_settings().validate() {
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
        if !(0.0..=1.0).contains(&self.confidence) {
            out.push(("confidence".to_owned(), "must be within 0..1".to_owned()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_callback_stacks_and_valid() {
        let cfg = PlatecbConfig::default();
        assert_eq!(cfg.callback_settings(), Settings::default());
        assert_eq!(
            cfg.webhook_limits.server_limits(),
            callback::webhook::ServerLimits::default()
        );
        assert_eq!(cfg.webhook_settings(), WebhookSettings::default());
        // Today's values, which deployments were tuned against.
        assert_eq!(cfg.result_ttl, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(cfg.pending_ttl, Duration::from_secs(14 * 3600));
        assert_eq!(cfg.max_wait, Duration::from_secs(10));
        assert_eq!(cfg.max_clock_skew, Duration::from_secs(600));
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    }

    #[test]
    fn impossible_values_are_named() {
        let cfg = PlatecbConfig {
            submit_timeout: Duration::from_secs(200),
            ..PlatecbConfig::default()
        };
        let problems = cfg.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "submit_window");
        assert!(problems[0].1.contains("paid twice"), "{problems:?}");
        let mut cfg = PlatecbConfig::default();
        cfg.webhook_limits.max_connections = 0;
        cfg.max_clock_skew = Duration::ZERO;
        let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["webhook_limits", "max_clock_skew"]);
    }

    #[test]
    fn keep_results_is_optional_and_round_trips() {
        let cfg: PlatecbConfig = toml::from_str(r#"keep_results = "720h""#).expect("parses");
        assert_eq!(cfg.keep_results, Some(Duration::from_secs(720 * 3600)));
        let text = toml::to_string(&cfg).expect("renders");
        assert!(text.contains(r#"keep_results = "720h""#), "{text}");
        let off: PlatecbConfig = toml::from_str(r#"keep_results = "off""#).expect("parses");
        assert_eq!(off.keep_results, None);
        let text = toml::to_string(&off).expect("renders");
        assert!(!text.contains("keep_results"), "{text}");
        let back: PlatecbConfig = toml::from_str(&text).expect("re-parses");
        assert_eq!(back.keep_results, None);
        let err = toml::from_str::<PlatecbConfig>(r#"keep_results = "30""#).expect_err("no unit");
        assert!(err.to_string().contains("unit"), "{err}");
        let err = toml::from_str::<PlatecbConfig>("no_such_key = 1").expect_err("unknown");
        assert!(err.to_string().contains("no_such_key"), "{err}");
    }
}
