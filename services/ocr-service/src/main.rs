//! The ocr-service binary (one per Kubernetes Deployment):
//! `ocr-service [--config FILE] [--print-config]`; settings also from `AXLE_*` variables.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kit::main_support::run(
        "ocr-service",
        |c: &ocr_service::config::OcrServiceConfig| &c.telemetry,
        ocr_service::start,
    )
    .await
}
