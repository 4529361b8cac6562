//! The plate-service binary (one per Kubernetes Deployment):
//! `plate-service [--config FILE] [--print-config]`; settings also from `AXLE_*` variables.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kit::main_support::run(
        "plate-service",
        |c: &plate_service::config::PlateServiceConfig| &c.telemetry,
        plate_service::start,
    )
    .await
}
