//! The `main` of every service binary: arguments, configuration, telemetry, signals,
//! serve, exit code. One place, so every binary behaves the same way in Kubernetes.

use std::fmt::Display;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::TelemetryConfig;
use crate::metrics::Metrics;
use crate::server::{RunningServer, Shutdown};

#[derive(Debug, Parser)]
struct Args {
    /// TOML configuration layered over the defaults (then AXLE_* environment variables).
    #[arg(long, env = "AXLE_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    print_config: bool,
}

/// Runs a service binary. Exit codes: 0 after a clean shutdown, 2 for a configuration
/// error, 1 for anything else.
///
/// From SIGTERM to the exit takes at most `drain_delay + shutdown_grace`, plus
/// [`crate::server::CUT_BOUND`] for cut connections to close and
/// [`crate::telemetry::FLUSH_BOUND`] for the last spans: set Kubernetes'
/// `terminationGracePeriodSeconds` above that sum. The last line logged is "stopped".
pub async fn run<C, F, Fut, E>(
    service: &'static str,
    telemetry: fn(&C) -> &TelemetryConfig,
    start: F,
) -> ExitCode
where
    C: DeserializeOwned + Serialize + Default + crate::config::Validate,
    F: FnOnce(C, Metrics, Shutdown) -> Fut,
    Fut: Future<Output = Result<RunningServer, E>>,
    E: Display,
{
    let args = Args::parse();
    let cfg: C = match crate::config::load(args.config.as_deref(), "AXLE") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        return match crate::config::to_toml(&cfg) {
            Ok(t) => {
                println!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{service}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let _telemetry = match crate::telemetry::init(telemetry(&cfg), service) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match start(cfg, Metrics::new(), Shutdown::on_signals()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("{service}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            eprintln!("{service}: {e}");
            ExitCode::FAILURE
        }
    };
    tracing::info!(service, "stopped");
    code
}
