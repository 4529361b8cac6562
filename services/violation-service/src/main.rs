//! The violation-service binary (one per Kubernetes Deployment):
//! `violation-service [--config FILE] [--print-config]`; settings also from `AXLE_*` variables.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kit::main_support::run(
        "violation-service",
        |c: &violation_service::config::ViolationServiceConfig| &c.telemetry,
        violation_service::start,
    )
    .await
}
