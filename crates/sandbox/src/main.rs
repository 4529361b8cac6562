//! `sandbox [--config FILE] [--check-config]`: serves the vendor simulators until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sandbox::SandboxConfig;

#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    about = "Axle vendor sandbox: vendor contracts over fixture data, with fault injection"
)]
struct Args {
    /// TOML configuration (see crates/sandbox/sandbox.example.toml); defaults otherwise.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Overrides `listen` from the configuration.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Parse the configuration and exit: 0 when it is valid (the Helm chart's check runs
    /// this on the configuration it renders).
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut cfg = match &args.config {
        None => SandboxConfig::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str::<SandboxConfig>(&t).map_err(|e| e.to_string()))
        {
            Ok(cfg) => cfg,
            Err(e) => {
                eprintln!("sandbox: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    if let Some(listen) = args.listen {
        cfg.listen = listen;
    }
    if args.check_config {
        return ExitCode::SUCCESS;
    }
    match sandbox::start(cfg, shutdown_signal()).await {
        Ok(running) => {
            tracing::info!(addr = %running.addr, "vendor sandbox listening (every answer carries x-axle-sandbox: 1)");
            match running.wait().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sandbox: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested");
}
