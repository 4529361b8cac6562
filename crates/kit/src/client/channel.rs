//! How to reach one Axle service: its typed configuration and the channel built from it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};

use crate::config::{Validate, duration};

/// One downstream Axle service, e.g. under `[services.vin]` of the aggregator's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// `http://host:port` of the service, e.g. `http://vin-service:50051`.
    pub endpoint: String,
    /// TCP connect timeout: an unreachable service fails a call this fast, whatever the
    /// call's deadline.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Longest any one call may take, even when the caller's deadline is further away.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Taken off the caller's remaining time before it is sent as `grpc-timeout`, so that
    /// when this service is late the caller still has time to merge what the others said
    /// and answer before its own deadline.
    #[serde(with = "duration")]
    pub deadline_reserve: Duration,
    /// HTTP/2 PING interval, also while idle, so that a connection to a replica that
    /// vanished without closing it (a node lost, a network partition) is found dead
    /// before a call waits on it. "0s" turns pings off.
    #[serde(with = "duration")]
    pub keepalive_interval: Duration,
    /// How long a PING may go unanswered before the connection is dropped.
    #[serde(with = "duration")]
    pub keepalive_timeout: Duration,
    /// The service's circuit breaker.
    pub breaker: super::breaker::BreakerConfig,
    /// Retries of calls safe to repeat, under a budget.
    pub retry: super::retry::RetryConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            deadline_reserve: Duration::from_millis(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            breaker: super::breaker::BreakerConfig::default(),
            retry: super::retry::RetryConfig::default(),
        }
    }
}

impl ClientConfig {
    /// The service at `port` on this machine (the defaults of `axle up`).
    pub fn local(port: u16) -> Self {
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            ..Self::default()
        }
    }

    /// A channel that connects on first use (so a service can start before the services
    /// it calls) and reconnects after a failure.
    ///
    /// The configuration must be valid ([`Validate::problems`] empty).
    pub(crate) fn lazy_channel(&self) -> Result<Channel, String> {
        // Building a channel spawns its connection task: without a runtime tonic panics.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("a client must be created inside a Tokio runtime".to_owned());
        }
        let mut endpoint = Endpoint::from_shared(self.endpoint.trim().to_owned())
            .map_err(|e| format!("endpoint {:?}: {e}", self.endpoint))?
            .connect_timeout(self.connect_timeout);
        if !self.keepalive_interval.is_zero() {
            endpoint = endpoint
                .http2_keep_alive_interval(self.keepalive_interval)
                .keep_alive_timeout(self.keepalive_timeout)
                .keep_alive_while_idle(true);
        }
        Ok(endpoint.connect_lazy())
    }
}

impl Validate for ClientConfig {
    fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: String| out.push((key.to_owned(), message));
        if let Err(message) = check_endpoint(self.endpoint.trim()) {
            bad("endpoint", message);
        }
        if self.connect_timeout.is_zero() {
            bad(
                "connect_timeout",
                "must be more than 0 (no connection could be made)".to_owned(),
            );
        }
        if self.request_timeout.is_zero() {
            bad(
                "request_timeout",
                "must be more than 0 (every call would fail)".to_owned(),
            );
        }
        if self.breaker.enabled && self.breaker.failure_threshold == 0 {
            bad(
                "breaker.failure_threshold",
                "must be at least 1 (or set breaker.enabled = false)".to_owned(),
            );
        }
        if self.breaker.enabled && self.breaker.open_for.is_zero() {
            bad(
                "breaker.open_for",
                "must be more than 0 (or set breaker.enabled = false)".to_owned(),
            );
        }
        if !(0.0..=1.0).contains(&self.retry.budget_ratio) {
            bad(
                "retry.budget_ratio",
                format!("must be between 0 and 1, not {}", self.retry.budget_ratio),
            );
        }
        if !self.keepalive_interval.is_zero() && self.keepalive_timeout.is_zero() {
            bad(
                "keepalive_timeout",
                "must be more than 0 while keepalive_interval is on (every PING would \
                 drop the connection)"
                    .to_owned(),
            );
        }
        out
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    const EXAMPLE: &str = "such as http://127.0.0.1:50051";
    if endpoint.is_empty() {
        return Err(format!("must be set to the service's address, {EXAMPLE}"));
    }
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| format!("{endpoint:?} is not a URL {EXAMPLE}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        // tonic is built without TLS: a call would fail at connect time, every time.
        Some("https") => {
            return Err(format!(
                "{endpoint:?}: TLS is not supported between Axle services (use http://, \
                 and a service mesh for encryption)"
            ));
        }
        _ => return Err(format!("{endpoint:?} must start with http://, {EXAMPLE}")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} names no host, {EXAMPLE}"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        // gRPC paths are /package.Service/Method from the root; a prefix is dropped.
        return Err(format!(
            "{endpoint:?} has a path: give only scheme, host and port, {EXAMPLE}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_durations_and_refuses_unknown_keys() {
        let cfg: ClientConfig = toml::from_str(
            r#"
            endpoint = "http://vin-service:50051"
            connect_timeout = "250ms"
            request_timeout = "2s"
            deadline_reserve = "15ms"
            keepalive_interval = "0s"
            "#,
        )
        .expect("parses");
        assert_eq!(cfg.connect_timeout, Duration::from_millis(250));
        assert_eq!(cfg.request_timeout, Duration::from_secs(2));
        assert_eq!(cfg.deadline_reserve, Duration::from_millis(15));
        assert!(cfg.keepalive_interval.is_zero());
        assert_eq!(
            cfg.keepalive_timeout,
            Duration::from_secs(10),
            "default kept"
        );
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());

        let typo =
            toml::from_str::<ClientConfig>(r#"conect_timeout = "1s""#).expect_err("unknown key");
        assert!(typo.to_string().contains("conect_timeout"), "{typo}");
        let unitless = toml::from_str::<ClientConfig>(r#"request_timeout = "5""#)
            .expect_err("a duration needs its unit");
        assert!(unitless.to_string().contains("unit"), "{unitless}");
    }

    #[test]
    fn the_local_default_is_valid_and_round_trips() {
        let cfg = ClientConfig::local(50051);
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        let text = toml::to_string(&cfg).expect("renders");
        assert!(text.contains("request_timeout = \"10s\""), "{text}");
        assert_eq!(toml::from_str::<ClientConfig>(&text).expect("parses"), cfg);
    }

    #[test]
    fn values_that_cannot_work_are_named() {
        let keys = |cfg: ClientConfig| -> Vec<String> {
            cfg.problems().into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys(ClientConfig::default()), ["endpoint"], "no endpoint");
        for endpoint in [
            "vin-service:50051",
            "https://vin-service:50051",
            "ftp://vin-service",
            "http://",
            "http://vin-service:50051/prefix",
            "not a url",
        ] {
            let cfg = ClientConfig {
                endpoint: endpoint.to_owned(),
                ..ClientConfig::default()
            };
            assert_eq!(keys(cfg), ["endpoint"], "{endpoint}");
        }
        let https = ClientConfig {
            endpoint: "https://vin-service:50051".to_owned(),
            ..ClientConfig::default()
        };
        assert!(
            https.problems()[0].1.contains("TLS"),
            "{:?}",
            https.problems()
        );
        let zeros = ClientConfig {
            connect_timeout: Duration::ZERO,
            request_timeout: Duration::ZERO,
            keepalive_timeout: Duration::ZERO,
            ..ClientConfig::local(50051)
        };
        assert_eq!(
            keys(zeros),
            ["connect_timeout", "request_timeout", "keepalive_timeout"]
        );
    }

    #[test]
    fn no_runtime_is_an_error_not_a_panic() {
        let err = ClientConfig::local(50051)
            .lazy_channel()
            .expect_err("needs a runtime");
        assert!(err.contains("Tokio runtime"), "{err}");
    }

    #[tokio::test]
    async fn a_channel_is_built_without_the_service_running() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        // Nobody listens there: a lazy channel does not care until it is used.
        assert!(ClientConfig::local(port).lazy_channel().is_ok());
    }
}
