//! `axle health`: one gRPC health check (`grpc.health.v1.Health/Check`) of one server.
//!
//! The container image has no shell, so its `HEALTHCHECK` runs this binary; people use it
//! to ask a server how it is. Exit codes follow Docker's health-check contract: 0 when
//! the server answers SERVING, 1 for anything else (NOT_SERVING while it drains, a
//! service it does not know, no answer within the timeout, nothing listening).

use std::process::ExitCode;
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// What one health check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Serving,
    NotServing,
    /// The server does not report this service name.
    UnknownService,
    /// No answer: unreachable, timed out, or an error status; the reason says which.
    Unreachable(String),
}

/// Checks `service` ("" for the server as a whole) at `endpoint` (`host:port` or a URL),
/// connection included, within `timeout`.
pub async fn check(endpoint: &str, service: &str, timeout: Duration) -> Health {
    let ask = async {
        let channel = crate::vin::channel(endpoint, "the server").await?;
        let answer = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await;
        anyhow::Ok(answer)
    };
    match tokio::time::timeout(timeout, ask).await {
        Err(_) => Health::Unreachable(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => Health::Unreachable(crate::render::error_chain(&e)),
        Ok(Ok(Err(status))) if status.code() == tonic::Code::NotFound => Health::UnknownService,
        Ok(Ok(Err(status))) => {
            Health::Unreachable(format!("{:?}: {}", status.code(), status.message()))
        }
        Ok(Ok(Ok(resp))) => match resp.into_inner().status() {
            ServingStatus::Serving => Health::Serving,
            ServingStatus::ServiceUnknown => Health::UnknownService,
            ServingStatus::NotServing | ServingStatus::Unknown => Health::NotServing,
        },
    }
}

/// `axle health`: prints what it found and exits 0 only for SERVING.
pub async fn run(endpoint: &str, service: &str, timeout: Duration) -> ExitCode {
    let what = if service.is_empty() {
        endpoint.to_owned()
    } else {
        format!("{service} at {endpoint}")
    };
    match check(endpoint, service, timeout).await {
        Health::Serving => {
            println!("{what}: SERVING");
            ExitCode::SUCCESS
        }
        Health::NotServing => {
            println!("{what}: NOT_SERVING (starting, or draining after SIGTERM)");
            ExitCode::FAILURE
        }
        Health::UnknownService => {
            println!("{what}: the server does not know this service (list them with reflection)");
            ExitCode::FAILURE
        }
        Health::Unreachable(why) => {
            println!("{what}: no answer: {why}");
            ExitCode::FAILURE
        }
    }
}
