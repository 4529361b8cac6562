//! The `axle` command's library: `axle up` (the whole suite in one process), the client
//! commands and the benchmark. The binary (`src/main.rs`) only parses arguments.

pub mod bench;
pub mod render;
pub mod up;
pub mod vin;

use std::time::Duration;

/// Options shared by the client commands.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// vin-service address.
    #[arg(
        long,
        global = true,
        env = "AXLE_VIN_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    pub endpoint: String,
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
