//! The vin-service binary (one per Kubernetes Deployment).
//!
//! `vin-service [--config FILE]`; every setting can also come from `AXLE_*` variables.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "vin-service", version, about = "axle.vin.v1.VinService")]
struct Args {
    /// TOML configuration layered over the defaults (then AXLE_* environment variables).
    #[arg(long, env = "AXLE_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    print_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let cfg: vin_service::config::VinServiceConfig =
        match kit::config::load(args.config.as_deref(), "AXLE") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    if args.print_config {
        return match kit::config::to_toml(&cfg) {
            Ok(t) => {
                println!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let _telemetry = match kit::telemetry::init(&cfg.telemetry, "vin-service") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = kit::server::Shutdown::on_signals();
    let server = match vin_service::start(cfg, kit::metrics::Metrics::new(), shutdown).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
