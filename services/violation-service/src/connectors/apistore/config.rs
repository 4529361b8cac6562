//! apistore's configuration: the platform app (appid, secret, signing mode), the HTTP
//! client, and the callback stack for queries answered later (10023).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use callback::config::CallbackConfig;
use connector::config::{CostConfig, HttpClientConfig, RetryPolicy};
use connector::platform::SignMode;
use serde::{Deserialize, Serialize};
use settings::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApistoreConfig {
    pub enabled: bool,
    pub http: HttpClientConfig,
    /// The query endpoint under `http.base_url` (seed 003: `/pyi/65/173`).
    pub path: String,
    /// The app id (我的应用). The sandbox's demo app is "1" (MD5) or "2" (Hash).
    pub appid: String,
    /// The app secret. Never printed.
    pub secret: Secret<String>,
    /// The app's 验证方式: `md5` or `hash` (the secret itself is sent: use only over TLS).
    pub sign_mode: SignMode,
    /// How far its answers are trusted (it states none).
    pub confidence: f32,
    /// After an out-of-credit answer (10011, 10018, 10022) apistore is not asked again for
    /// this long (then one query probes): a used-up account is not hammered per request.
    #[serde(with = "settings::duration")]
    pub quota_cooldown: Duration,
    /// Where and how answers that come later (10023) are received, stored and awaited;
    /// also the store of every answer, reused within `result_ttl` without a new charge.
    pub callback: CallbackConfig,
}

impl Default for ApistoreConfig {
    fn default() -> Self {
        let mut callback = CallbackConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 50063)),
            PathBuf::from("var/violation-service/callbacks.sqlite"),
        );
        // A violation list changes slowly (a new record reaches the register days after
        // the event), and every query is billed: an answer is reused for 6 hours.
        callback.result_ttl = Duration::from_secs(6 * 3600);
        Self {
            enabled: true,
            http: HttpClientConfig {
                base_url: "http://127.0.0.1:50080".to_owned(),
                request_timeout: Duration::from_secs(5),
                // A query is paid: only refusals (429/503) and connect failures are
                // retried, never a request that may have been taken.
                retry: RetryPolicy {
                    max_attempts: 2,
                    ..RetryPolicy::default()
                },
                // Seed 003's price list: 0.14 元/次 for the smallest package.
                cost_per_call: Some(CostConfig {
                    currency: "CNY".to_owned(),
                    amount: 0.14,
                }),
                ..HttpClientConfig::default()
            },
            path: "/pyi/65/173".to_owned(),
            appid: "1".to_owned(),
            secret: Secret::new("sandbox-apistore-secret".to_owned()),
            sign_mode: SignMode::Md5,
            confidence: 0.9,
            quota_cooldown: Duration::from_secs(600),
            callback,
        }
    }
}

impl ApistoreConfig {
    /// Values that parse but cannot work, by key relative to this section.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .callback
            .problems()
            .into_iter()
            .map(|(k, v)| (format!("callback.{k}"), v))
            .collect();
        if self.enabled && (self.appid.is_empty() || self.secret.expose().is_empty()) {
            out.push((
                "appid".to_owned(),
                "appid and secret must be set (我的应用 in the platform's console)".to_owned(),
            ));
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            out.push(("confidence".to_owned(), "must be within 0..1".to_owned()));
        }
        if self.quota_cooldown < Duration::from_secs(1) {
            out.push((
                "quota_cooldown".to_owned(),
                "must be at least 1s".to_owned(),
            ));
        }
        if !self.path.starts_with('/') {
            out.push(("path".to_owned(), "must start with /".to_owned()));
        }
        if self.sign_mode == SignMode::Hash
            && self.enabled
            && self.http.base_url.starts_with("http://")
            && !is_loopback(&self.http.base_url)
        {
            out.push((
                "sign_mode".to_owned(),
                "hash mode sends the secret itself: use an https:// base_url".to_owned(),
            ));
        }
        out
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    if rest.starts_with("[::1]") {
        return true;
    }
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_reach_the_sandbox() {
        let cfg = ApistoreConfig::default();
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.callback.result_ttl, Duration::from_secs(6 * 3600));
        assert_eq!(cfg.path, "/pyi/65/173");
    }

    #[test]
    fn hash_mode_needs_tls_off_loopback() {
        let mut cfg = ApistoreConfig {
            sign_mode: SignMode::Hash,
            ..ApistoreConfig::default()
        };
        assert!(cfg.problems().is_empty(), "loopback sandbox is fine");
        cfg.http.base_url = "http://api.example.com".to_owned();
        let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["sign_mode"]);
        cfg.http.base_url = "https://api.example.com".to_owned();
        assert!(cfg.problems().is_empty());
        let err = toml::from_str::<ApistoreConfig>(r#"sign_mode = "sha1""#).expect_err("mode");
        assert!(err.to_string().contains("sha1"), "{err}");
    }
}
