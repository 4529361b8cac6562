//! The vin-service binary (one per Kubernetes Deployment):
//! `vin-service [--config FILE] [--print-config]`; settings also from `AXLE_*` variables.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kit::main_support::run(
        "vin-service",
        |c: &vin_service::config::VinServiceConfig| &c.telemetry,
        vin_service::start,
    )
    .await
}
