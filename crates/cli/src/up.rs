//! `axle up`: every service plus the vendor sandbox in one process, wired together, on the
//! default ports, with no credentials and no external service.
//!
//! Configuration is one document with a section per component, layered like every
//! service's (defaults < `--config` file < `AXLE_*` environment), e.g.
//! `AXLE_VIN__SERVER__LISTEN=0.0.0.0:50051`. Because all components share a process,
//! telemetry is configured once at the top level.

use std::net::SocketAddr;
use std::path::Path;

use aggregator::config::AggregatorConfig;
use anyhow::Context as _;
use kit::config::TelemetryConfig;
use kit::server::Shutdown;
use ocr_service::config::OcrServiceConfig;
use plate_service::config::PlateServiceConfig;
use serde::{Deserialize, Serialize};
use vin_service::config::VinServiceConfig;
use violation_service::config::ViolationServiceConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpConfig {
    pub telemetry: TelemetryConfig,
    /// Serve Prometheus metrics for the whole process here (all services share one
    /// registry in `axle up`); "off" disables it.
    #[serde(with = "kit::config::optional_addr")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub sandbox: sandbox::SandboxConfig,
    pub vin: VinServiceConfig,
    pub plate: PlateServiceConfig,
    pub violation: ViolationServiceConfig,
    pub ocr: OcrServiceConfig,
    pub aggregator: AggregatorConfig,
}

impl Default for UpConfig {
    fn default() -> Self {
        Self {
            telemetry: TelemetryConfig::default(),
            metrics_listen: Some(([127, 0, 0, 1], 9090).into()),
            sandbox: sandbox::SandboxConfig::default(),
            vin: VinServiceConfig::default(),
            plate: PlateServiceConfig::default(),
            violation: ViolationServiceConfig::default(),
            ocr: OcrServiceConfig::default(),
            aggregator: AggregatorConfig::default(),
        }
    }
}

impl kit::config::Validate for UpConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("telemetry", self.telemetry.problems());
        out.extend(under("vin", self.vin.problems()));
        out.extend(under("plate", self.plate.problems()));
        out.extend(under("violation", self.violation.problems()));
        out.extend(under("ocr", self.ocr.problems()));
        out.extend(under("aggregator", self.aggregator.problems()));
        out
    }
}

pub fn load(file: Option<&Path>) -> anyhow::Result<UpConfig> {
    let cfg = kit::config::load::<UpConfig>(file, "AXLE")?;
    check_shared_settings(&cfg)?;
    Ok(cfg)
}

/// One process has one log/trace pipeline and one metrics endpoint, so per-service
/// `telemetry` and `server.metrics_listen` cannot take effect in `axle up`. Setting them
/// is refused rather than silently ignored.
fn check_shared_settings(cfg: &UpConfig) -> anyhow::Result<()> {
    let default_telemetry = serde_json::to_value(TelemetryConfig::default())?;
    for (section, telemetry) in [
        ("vin", &cfg.vin.telemetry),
        ("plate", &cfg.plate.telemetry),
        ("violation", &cfg.violation.telemetry),
        ("ocr", &cfg.ocr.telemetry),
        ("aggregator", &cfg.aggregator.telemetry),
    ] {
        if serde_json::to_value(telemetry)? != default_telemetry {
            anyhow::bail!(
                "{section}.telemetry: axle up runs every service in one process with one \
                 telemetry pipeline; set the top-level [telemetry] section (AXLE_TELEMETRY__...) instead"
            );
        }
    }
    let defaults = UpConfig::default();
    for (section, got, default) in [
        (
            "vin",
            cfg.vin.server.metrics_listen,
            defaults.vin.server.metrics_listen,
        ),
        (
            "plate",
            cfg.plate.server.metrics_listen,
            defaults.plate.server.metrics_listen,
        ),
        (
            "violation",
            cfg.violation.server.metrics_listen,
            defaults.violation.server.metrics_listen,
        ),
        (
            "ocr",
            cfg.ocr.server.metrics_listen,
            defaults.ocr.server.metrics_listen,
        ),
        (
            "aggregator",
            cfg.aggregator.server.metrics_listen,
            defaults.aggregator.server.metrics_listen,
        ),
    ] {
        if got != default {
            anyhow::bail!(
                "{section}.server.metrics_listen: axle up serves one /metrics for the whole \
                 process; set the top-level metrics_listen (AXLE_METRICS_LISTEN) instead"
            );
        }
    }
    Ok(())
}

/// The running suite.
#[derive(Debug)]
pub struct Suite {
    pub vin_addr: SocketAddr,
    pub plate_addr: SocketAddr,
    pub violation_addr: SocketAddr,
    pub ocr_addr: SocketAddr,
    pub aggregator_addr: SocketAddr,
    pub sandbox_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    /// The vendors' callback webhooks (platecb's, apistore's) where they listen.
    pub webhooks: Vec<kit::server::SideListener>,
    vin: kit::server::RunningServer,
    plate: kit::server::RunningServer,
    violation: kit::server::RunningServer,
    ocr: kit::server::RunningServer,
    aggregator: kit::server::RunningServer,
    sandbox: sandbox::RunningSandbox,
    /// Fired once every service has stopped: the sandbox and /metrics stop then, so
    /// calls draining in the services still reach their (simulated) vendors and the
    /// drain still shows on dashboards.
    services_done: Shutdown,
}

impl Suite {
    /// The callback webhook of `vendor` (`platecb`, `apistore`), when it runs.
    pub fn webhook(&self, vendor: &str) -> Option<&kit::server::SideListener> {
        self.webhooks.iter().find(|w| w.name == vendor)
    }

    /// Waits until every component has stopped: each service within its `drain_delay +
    /// shutdown_grace` (plus [`kit::server::CUT_BOUND`]), then the sandbox and `/metrics`,
    /// given at most [`kit::server::CUT_BOUND`] more (a simulated vendor delay must not
    /// hold the exit).
    pub async fn wait(self) -> anyhow::Result<()> {
        // The aggregator first: it calls the others, which keep serving its draining calls.
        let aggregator = self.aggregator.wait().await;
        let vin = self.vin.wait().await;
        let plate = self.plate.wait().await;
        let violation = self.violation.wait().await;
        let ocr = self.ocr.wait().await;
        self.services_done.trigger();
        aggregator.context("aggregator stopped with an error")?;
        vin.context("vin-service stopped with an error")?;
        plate.context("plate-service stopped with an error")?;
        violation.context("violation-service stopped with an error")?;
        ocr.context("ocr-service stopped with an error")?;
        match tokio::time::timeout(kit::server::CUT_BOUND, self.sandbox.wait()).await {
            Ok(r) => r.context("sandbox stopped with an error")?,
            Err(_) => tracing::warn!(
                "vendor sandbox still answering requests after the services stopped; not waiting for it"
            ),
        }
        Ok(())
    }
}

/// Starts the sandbox, then every service wired to it, and the metrics endpoint.
pub async fn start(cfg: UpConfig, shutdown: Shutdown) -> anyhow::Result<Suite> {
    let metrics = kit::metrics::Metrics::new();
    let services_done = Shutdown::new();
    let sandbox = sandbox::start(cfg.sandbox.clone(), {
        let s = services_done.clone();
        async move { s.triggered().await }
    })
    .await
    .context("starting the vendor sandbox")?;

    // Services call the sandbox where it actually listens (port 0 is known only now).
    let mut wired = effective(&cfg, sandbox.addr);
    share_internal_token(&mut wired);
    // A component that fails to start stops the ones already running.
    let stop_on_error = |e: anyhow::Error| {
        services_done.trigger();
        shutdown.trigger();
        e
    };
    let vin_cfg = wired.vin.clone();
    let vin = vin_service::start(vin_cfg, metrics.clone(), shutdown.clone())
        .await
        .context("starting vin-service")
        .map_err(stop_on_error)?;

    let plate_cfg = wired.plate.clone();
    let plate = plate_service::start(plate_cfg, metrics.clone(), shutdown.clone())
        .await
        .context("starting plate-service")
        .map_err(stop_on_error)?;

    let violation_cfg = wired.violation.clone();
    let violation = violation_service::start(violation_cfg, metrics.clone(), shutdown.clone())
        .await
        .context("starting violation-service")
        .map_err(stop_on_error)?;

    // Loads the local OCR engine (models from scripts/ocr-models.sh) unless it is off.
    let ocr_cfg = wired.ocr.clone();
    let ocr = ocr_service::start(ocr_cfg, metrics.clone(), shutdown.clone())
        .await
        .context("starting ocr-service")
        .map_err(stop_on_error)?;

    // The aggregator calls the services where they actually listen (port 0 in tests).
    let mut agg_cfg = wired.aggregator.clone();
    retarget_service(&mut agg_cfg.services.vin.endpoint, 50051, vin.grpc_addr);
    retarget_service(&mut agg_cfg.services.plate.endpoint, 50052, plate.grpc_addr);
    retarget_service(
        &mut agg_cfg.services.violation.endpoint,
        50053,
        violation.grpc_addr,
    );
    retarget_service(&mut agg_cfg.services.ocr.endpoint, 50054, ocr.grpc_addr);
    let aggregator = aggregator::start(agg_cfg, metrics.clone(), shutdown.clone())
        .await
        .context("starting the aggregator")
        .map_err(stop_on_error)?;

    let metrics_addr = match cfg.metrics_listen {
        Some(addr) => Some(
            kit::metrics::serve_metrics(addr, metrics.clone(), {
                let s = services_done.clone();
                async move { s.triggered().await }
            })
            .await
            .context("starting the metrics endpoint")
            .map_err(stop_on_error)?
            .0,
        ),
        None => None,
    };
    Ok(Suite {
        vin_addr: vin.grpc_addr,
        plate_addr: plate.grpc_addr,
        violation_addr: violation.grpc_addr,
        ocr_addr: ocr.grpc_addr,
        aggregator_addr: aggregator.grpc_addr,
        sandbox_addr: sandbox.addr,
        metrics_addr,
        webhooks: [&plate, &violation]
            .iter()
            .flat_map(|s| s.side_listeners())
            .collect(),
        vin,
        plate,
        violation,
        ocr,
        aggregator,
        sandbox,
        services_done,
    })
}

/// `axle up`: start, say where everything is, run until SIGINT/SIGTERM.
pub async fn run(cfg: UpConfig) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(&cfg.telemetry, "axle")?;
    let json_logs = cfg.telemetry.log_format == kit::config::LogFormat::Json;
    let suite = Box::pin(start(cfg, Shutdown::on_signals())).await?;
    tracing::info!(addr = %suite.sandbox_addr, "vendor sandbox listening (answers are labelled sandbox)");
    tracing::info!(addr = %suite.vin_addr, "vin-service listening (axle.vin.v1.VinService)");
    tracing::info!(addr = %suite.plate_addr, "plate-service listening (axle.plate.v1.PlateService)");
    tracing::info!(addr = %suite.violation_addr, "violation-service listening (axle.violation.v1.ViolationService)");
    tracing::info!(addr = %suite.ocr_addr, "ocr-service listening (axle.ocr.v1.OcrService)");
    tracing::info!(addr = %suite.aggregator_addr, "aggregator listening (axle.aggregator.v1.AggregatorService)");
    for w in &suite.webhooks {
        tracing::info!(url = %w.url(), "{} callback webhook listening", w.name);
    }
    let metrics = suite
        .metrics_addr
        .map_or_else(|| "off".to_owned(), |a| format!("http://{a}/metrics"));
    let webhook = |vendor: &str| {
        suite
            .webhook(vendor)
            .map_or_else(|| "off".to_owned(), kit::server::SideListener::url)
    };
    if json_logs {
        // A log collector reading stderr sees only JSON.
        tracing::info!(
            vin = %suite.vin_addr,
            plate = %suite.plate_addr,
            violation = %suite.violation_addr,
            ocr = %suite.ocr_addr,
            aggregator = %suite.aggregator_addr,
            sandbox = %suite.sandbox_addr,
            %metrics,
            platecb_webhook = %webhook("platecb"),
            apistore_webhook = %webhook("apistore"),
            "axle is up"
        );
    } else {
        eprintln!(
            "axle is up:\n  aggregator     {}  (axle profile --plate 粤B12345)\n  vin-service    {}  (buf curl --protocol grpc --http2-prior-knowledge --list-services http://{})\n  plate-service  {}  (platecb callbacks: {})\n  violation-service {}  (apistore callbacks: {})\n  ocr-service    {}  (axle ocr photo.jpg)\n  sandbox        http://{}\n  metrics        {metrics}\nCtrl-C stops it.",
            suite.aggregator_addr,
            suite.vin_addr,
            suite.vin_addr,
            suite.plate_addr,
            webhook("platecb"),
            suite.violation_addr,
            webhook("apistore"),
            suite.ocr_addr,
            suite.sandbox_addr,
        );
    }
    let stopped = suite.wait().await;
    tracing::info!("axle stopped");
    stopped
}

/// Points a vendor base URL at the running sandbox when it is the default sandbox address.
/// The configuration as `axle up` applies it: vendor URLs left at the sandbox's default
/// address follow the sandbox to where it listens (`sandbox.listen`, or `sandbox_addr`
/// once bound), and per-service metrics listeners are off (the process serves one
/// `/metrics` on `metrics_listen`). `--print-config` shows this.
pub fn effective(cfg: &UpConfig, sandbox_addr: SocketAddr) -> UpConfig {
    let mut c = cfg.clone();
    retarget_to_sandbox(&mut c.vin.vendors.connapi.http.base_url, sandbox_addr);
    retarget_to_sandbox(&mut c.plate.vendors.xiaoshibao.http.base_url, sandbox_addr);
    retarget_to_sandbox(&mut c.plate.vendors.platecb.http.base_url, sandbox_addr);
    retarget_to_sandbox(
        &mut c.violation.vendors.apistore.http.base_url,
        sandbox_addr,
    );
    for address in &mut c.ocr.vendors.apihz.addresses {
        retarget_prefix_to_sandbox(address, sandbox_addr);
    }
    c.vin.server.metrics_listen = None;
    c.ocr.server.metrics_listen = None;
    c.plate.server.metrics_listen = None;
    c.violation.server.metrics_listen = None;
    c.aggregator.server.metrics_listen = None;
    c
}

/// plate- and ocr-service hand the VINs (and engine numbers) they find unmasked only
/// to callers holding their internal token; in this process the aggregator is that
/// caller (it masks for its own callers). With no token configured, one is made up for
/// this run; one configured anywhere (the aggregator's first) is shared with the sides
/// left empty.
fn share_internal_token(c: &mut UpConfig) {
    let configured = [
        &c.aggregator.services.internal_token,
        &c.plate.privacy.internal_token,
        &c.ocr.privacy.internal_token,
    ]
    .into_iter()
    .find(|t| !t.is_empty())
    .cloned();
    let token = configured
        .unwrap_or_else(|| settings::Secret::new(format!("{:032x}", rand::random::<u128>())));
    for side in [
        &mut c.aggregator.services.internal_token,
        &mut c.plate.privacy.internal_token,
        &mut c.ocr.privacy.internal_token,
    ] {
        if side.is_empty() {
            side.clone_from(&token);
        }
    }
}

/// Points the aggregator's client of a service at where that service listens, when the
/// endpoint is left at the service's default local address.
fn retarget_service(endpoint: &mut String, default_port: u16, actual: SocketAddr) {
    if endpoint.trim_end_matches('/') == format!("http://127.0.0.1:{default_port}") {
        *endpoint = format!("http://{actual}");
    }
}

/// Like [`retarget_to_sandbox`] for a URL under the sandbox (apihz's addresses are
/// paths below it, one per simulated address).
fn retarget_prefix_to_sandbox(url: &mut String, sandbox: std::net::SocketAddr) {
    let default = format!("http://{}", sandbox::DEFAULT_LISTEN);
    if let Some(rest) = url.strip_prefix(&default)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        *url = format!("http://{sandbox}{rest}");
    }
}

fn retarget_to_sandbox(base_url: &mut String, sandbox: std::net::SocketAddr) {
    let default = format!("http://{}", sandbox::DEFAULT_LISTEN);
    if base_url.trim_end_matches('/') == default {
        *base_url = format!("http://{sandbox}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_wire_services_to_the_sandbox() {
        let cfg = UpConfig::default();
        assert_eq!(
            cfg.vin.vendors.connapi.http.base_url,
            format!("http://{}", sandbox::DEFAULT_LISTEN)
        );
        assert_eq!(cfg.vin.server.listen.port(), 50051);
        assert_eq!(cfg.plate.server.listen.port(), 50052);
        assert_eq!(cfg.violation.server.listen.port(), 50053);
        assert_eq!(cfg.ocr.server.listen.port(), 50054);
        assert_eq!(
            cfg.violation.vendors.apistore.http.base_url,
            format!("http://{}", sandbox::DEFAULT_LISTEN)
        );
    }

    #[test]
    fn the_aggregator_plate_and_ocr_service_share_one_internal_token() {
        let mut c = UpConfig::default();
        share_internal_token(&mut c);
        let t = c.plate.privacy.internal_token.expose().clone();
        assert_eq!(t.len(), 32);
        assert_eq!(c.aggregator.services.internal_token.expose(), &t);
        assert_eq!(c.ocr.privacy.internal_token.expose(), &t);
        let mut again = UpConfig::default();
        share_internal_token(&mut again);
        assert_ne!(
            again.plate.privacy.internal_token.expose(),
            &t,
            "made up per run"
        );
        // One configured side is shared with the other.
        let mut c = UpConfig::default();
        c.aggregator.services.internal_token = settings::Secret::new("configured".to_owned());
        share_internal_token(&mut c);
        assert_eq!(c.plate.privacy.internal_token.expose(), "configured");
        assert_eq!(c.ocr.privacy.internal_token.expose(), "configured");
    }

    #[test]
    fn shipped_up_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/axle-up.toml");
        load(Some(&path)).expect("config/axle-up.toml parses");
    }

    #[test]
    fn the_printed_configuration_is_the_one_applied() {
        let mut cfg = UpConfig::default();
        cfg.sandbox.listen = "127.0.0.1:51080".parse().expect("addr");
        let shown = effective(&cfg, cfg.sandbox.listen);
        assert_eq!(
            shown.plate.vendors.platecb.http.base_url,
            "http://127.0.0.1:51080"
        );
        assert_eq!(shown.vin.server.metrics_listen, None);
        assert_eq!(
            shown.ocr.vendors.apihz.addresses[0],
            "http://127.0.0.1:51080/apihz/vip"
        );
        // A vendor URL set on purpose is left alone.
        cfg.vin.vendors.connapi.http.base_url = "https://vendor.example".to_owned();
        let shown = effective(&cfg, cfg.sandbox.listen);
        assert_eq!(
            shown.vin.vendors.connapi.http.base_url,
            "https://vendor.example"
        );
    }

    #[test]
    fn per_service_settings_that_cannot_apply_are_refused() {
        let dir = std::env::temp_dir().join(format!("axle-up-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (text, key) in [
            ("[vin.telemetry]\nlog_format = \"json\"\n", "vin.telemetry"),
            (
                "[plate.server]\nmetrics_listen = \"127.0.0.1:9999\"\n",
                "plate.server.metrics_listen",
            ),
        ] {
            let path = dir.join("up.toml");
            std::fs::write(&path, text).expect("write");
            let err = load(Some(&path)).expect_err(key).to_string();
            assert!(err.starts_with(key), "{err}");
            assert!(err.contains("top-level"), "{err}");
        }
        // The top-level equivalents are fine.
        let path = dir.join("up.toml");
        std::fs::write(
            &path,
            "metrics_listen = \"127.0.0.1:9999\"\n[telemetry]\nlog_format = \"json\"\n",
        )
        .expect("write");
        load(Some(&path)).expect("top-level settings load");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
