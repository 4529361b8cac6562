//! The aggregator binary (one per Kubernetes Deployment):
//! `aggregator [--config FILE] [--print-config]`; settings also from `AXLE_*` variables.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kit::main_support::run(
        "aggregator",
        |c: &aggregator::config::AggregatorConfig| &c.telemetry,
        aggregator::start,
    )
    .await
}
