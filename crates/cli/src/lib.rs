//! The `axle` command's library: `axle up` (the whole suite in one process), the client
//! commands and the benchmark. The binary (`src/main.rs`) only parses arguments.

pub mod bench;
pub mod bench_profile;
pub mod health;
pub mod load;
pub mod ocr;
pub mod ocr_eval;
pub mod plate;
pub mod procfs;
pub mod profile;
pub mod readable;
pub mod render;
pub mod up;
pub mod vin;
pub mod violations;

use std::time::Duration;

/// Options shared by the client commands.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Service address; defaults to $AXLE_VIN_ENDPOINT / $AXLE_PLATE_ENDPOINT /
    /// $AXLE_VIOLATION_ENDPOINT / $AXLE_OCR_ENDPOINT / $AXLE_AGGREGATOR_ENDPOINT, then the
    /// default ports of `axle up` (vin 50051, plate 50052, violation 50053, ocr 50054,
    /// aggregator 50050).
    #[arg(long, global = true)]
    pub endpoint: Option<String>,
    /// Print the response as proto3 JSON instead of a readable summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// Deadline for the call, sent as grpc-timeout (e.g. 500ms, 5s).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    kit::config::parse_duration(s)
}

impl ClientArgs {
    /// The endpoint to call: `--endpoint`, else `$env_var`, else `default`.
    pub fn endpoint_or(&self, env_var: &str, default: &str) -> String {
        self.endpoint
            .clone()
            .or_else(|| std::env::var(env_var).ok())
            .unwrap_or_else(|| default.to_owned())
    }
}
