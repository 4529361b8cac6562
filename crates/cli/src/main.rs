//! `axle`: start the whole suite (`axle up`), query it (`axle vin ...`), benchmark it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::{
    ClientArgs, bench, bench_profile, health, ocr, plate, profile, render, up, vin, violations,
};

#[derive(Debug, Parser)]
#[command(
    name = "axle",
    version,
    about = "Axle: everything about a Chinese vehicle, over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start every service plus the vendor sandbox in one process (embedded default).
    Up {
        /// TOML file layered over the defaults (then AXLE_* environment variables).
        #[arg(long, env = "AXLE_CONFIG")]
        config: Option<PathBuf>,
        /// Print the effective configuration (secrets redacted) and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// VIN tools (talk to vin-service).
    Vin {
        #[command(subcommand)]
        command: vin::VinCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Plate tools (talk to plate-service).
    Plate {
        #[command(subcommand)]
        command: plate::PlateCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// gRPC health check of one server: exit 0 when SERVING, 1 otherwise (the
    /// container image's HEALTHCHECK).
    Health {
        /// Server address (host:port or http://host:port).
        #[arg(long, env = "AXLE_HEALTH_ENDPOINT", default_value = "127.0.0.1:50051")]
        endpoint: String,
        /// Service name to ask about, e.g. axle.vin.v1.VinService; empty: the server.
        #[arg(long, env = "AXLE_HEALTH_SERVICE", default_value = "")]
        service: String,
        /// Longest the check may take, connection included.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Traffic violations (talk to violation-service): `axle violations 粤B12345 --color
    /// blue --engine ... --vin ...`, or `axle violations rules 粤B`.
    #[command(args_conflicts_with_subcommands = true)]
    Violations {
        #[command(subcommand)]
        command: Option<violations::ViolationsCommand>,
        #[command(flatten)]
        query: violations::QueryArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read a 行驶证 photo (talks to ocr-service): `axle ocr front.jpg [--side front]
    /// [--other back.jpg]`; each field with its cross-check and source. `axle ocr eval`:
    /// the local engine's accuracy and latency on rendered photos (docs/ocr-eval.md).
    #[command(args_conflicts_with_subcommands = true)]
    Ocr {
        #[command(subcommand)]
        command: Option<OcrCommand>,
        #[command(flatten)]
        args: ocr::OcrArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Everything about a vehicle from a plate or a VIN (talks to the aggregator): the
    /// merged profile with each field's source, and what every source did.
    Profile {
        #[command(flatten)]
        args: profile::ProfileArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Benchmarks (see docs/perf.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OcrCommand {
    /// Renders (or reads) synthetic 行驶证 photos with known truth and reads them with the
    /// local engine in-process: per-field accuracy, clean and damaged, and latency
    /// percentiles (`--json` too). Needs the models (scripts/ocr-models.sh) and, to
    /// render, Python with Pillow and a CJK font (scripts/ocr-tools.sh).
    Eval {
        #[command(flatten)]
        args: cli::ocr_eval::EvalArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The server stack itself: Echo on Axle's stack vs Echo on a bare tonic server.
    Stack {
        #[command(flatten)]
        opts: BenchArgs,
    },
    /// ValidateVin vs a trivial echo RPC, same server stack, same process.
    Vin {
        #[command(flatten)]
        opts: BenchArgs,
    },
    /// ParsePlate vs a trivial echo RPC, same server stack, same process.
    Plate {
        #[command(flatten)]
        opts: BenchArgs,
    },
    /// GetVehicleProfile through the whole suite on the sandbox: warm cache and cold (three
    /// vendors) vs echo, P99 with 5 % of vendor calls delayed 500 ms hedged vs unhedged,
    /// paid vendor calls per vehicle when half the queries repeat.
    Profile {
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long, default_value_t = 4)]
        rounds: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Distinct vehicles of the repeat workload (each asked twice).
        #[arg(long, default_value_t = 200)]
        vehicles: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a running suite: open loop at a fixed rate (latency from each request's due
    /// time) or closed loop at a fixed concurrency; HDR percentiles, errors by status,
    /// the server's CPU, RSS and descriptors (see docs/reliability.md).
    Load(LoadArgs),
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// The RPC under load.
    #[arg(long, value_enum)]
    rpc: cli::load::Rpc,
    /// Open loop: requests per second.
    #[arg(
        long,
        conflicts_with = "concurrency",
        required_unless_present = "concurrency"
    )]
    rate: Option<f64>,
    /// Closed loop: callers, each waiting for its answer.
    #[arg(long)]
    concurrency: Option<usize>,
    /// How long to send (at most 1h).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: std::time::Duration,
    /// Deadline of each call.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// Different subjects cycled through (1: all the same).
    #[arg(long, default_value_t = 1000)]
    distinct: usize,
    /// Open loop: requests in flight at most; more are counted NOT_SENT.
    #[arg(long, default_value_t = 10_000)]
    max_in_flight: usize,
    /// The server process to sample (CPU, RSS, descriptors, threads), e.g. `$(pgrep -f "axle up")`.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Service address; default: `axle up`'s port for the RPC on 127.0.0.1.
    #[arg(long)]
    endpoint: Option<String>,
    /// `--rpc profile-photo`: a directory of 行驶证 photos (.jpg, .jpeg, .png), sent in
    /// turn, e.g. rendered by `axle ocr eval --keep DIR` or scripts/ocr_synth/render.py.
    #[arg(long)]
    photos: Option<std::path::PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    kit::config::parse_duration(s)
}

/// Size of a benchmark run.
#[derive(Debug, clap::Args)]
struct BenchArgs {
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Run with production logging on (JSON lines on stderr, one access line per RPC):
    /// compare with a run without it to see what logging costs per request.
    #[arg(long)]
    with_logs: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // Exit codes: 0 answered (a valid VIN / plate), 1 answered "invalid", 2 anything
    // else went wrong (unreachable server, timeout, bad configuration): scripts can tell
    // an invalid input from a failed call.
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", render::error_chain(&e));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up {
            config,
            print_config,
        } => {
            let cfg = up::load(config.as_deref())?;
            if print_config {
                let shown = up::effective(&cfg, cfg.sandbox.listen);
                render::out(&format!("{}\n", kit::config::to_toml(&shown)?))?;
                return Ok(ExitCode::SUCCESS);
            }
            Box::pin(up::run(cfg)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Health {
            endpoint,
            service,
            timeout,
        } => Ok(health::run(&endpoint, &service, timeout).await),
        Command::Vin { command, client } => vin::run(command, &client).await,
        Command::Plate { command, client } => plate::run(command, &client).await,
        Command::Violations {
            command,
            query,
            client,
        } => violations::run(command, query, &client).await,
        Command::Ocr {
            command: Some(OcrCommand::Eval { args }),
            client,
            ..
        } => cli::ocr_eval::run(args, client.json).await,
        Command::Ocr {
            command: None,
            args,
            client,
        } => ocr::run(&args, &client).await,
        Command::Profile { args, client } => profile::run(&args, &client).await,
        Command::Bench {
            command:
                BenchCommand::Profile {
                    requests,
                    rounds,
                    concurrency,
                    vehicles,
                    json,
                },
        } => {
            let opts = bench_profile::ProfileBenchOptions {
                requests_per_round: requests,
                rounds,
                concurrency,
                warmup: requests.min(500),
                distinct_vehicles: vehicles,
            };
            run_bench_profile(&opts, json).await
        }
        Command::Bench {
            command: BenchCommand::Load(a),
        } => {
            let rate_ok = a.rate.is_none_or(|r| r.is_finite() && r > 0.0 && r <= 1e6);
            anyhow::ensure!(
                rate_ok,
                "--rate must be a number of requests per second in (0, 1000000]"
            );
            let opts = cli::load::LoadOptions {
                rpc: a.rpc,
                endpoint: a
                    .endpoint
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", a.rpc.default_port())),
                mode: match (a.rate, a.concurrency) {
                    (Some(rate), _) => cli::load::Mode::Open {
                        rate,
                        max_in_flight: a.max_in_flight,
                    },
                    (None, c) => cli::load::Mode::Closed {
                        concurrency: c.unwrap_or(1),
                    },
                },
                duration: a.duration,
                timeout: a.timeout,
                distinct: a.distinct,
                server_pid: a.server_pid,
                photos: match &a.photos {
                    Some(dir) => cli::load::Photos::from_dir(dir)?,
                    None => cli::load::Photos::default(),
                },
            };
            let report = cli::load::run(&opts).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => {
            let (target, args) = match command {
                BenchCommand::Stack { opts } => (bench::Target::Stack, opts),
                BenchCommand::Vin { opts } => (bench::Target::ValidateVin, opts),
                BenchCommand::Plate { opts } => (bench::Target::ParsePlate, opts),
                BenchCommand::Profile { .. } => {
                    // Matched by the arm above; kept exhaustive without a panic.
                    return Ok(ExitCode::from(2));
                }
                BenchCommand::Load(_) => {
                    anyhow::bail!("axle bench load is handled before the other benchmarks")
                }
            };
            let _telemetry = if args.with_logs {
                Some(kit::telemetry::init(
                    &kit::config::TelemetryConfig {
                        log_format: kit::config::LogFormat::Json,
                        ..kit::config::TelemetryConfig::default()
                    },
                    "axle-bench",
                )?)
            } else {
                None
            };
            let opts = bench::BenchOptions {
                requests_per_round: args.requests,
                rounds: args.rounds,
                concurrency: args.concurrency,
                warmup: args.requests.min(2000),
            };
            let report = bench::run(&opts, target).await?;
            if args.json {
                render::out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else {
                render::out(&format!("{}\n", report.markdown()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_bench_profile(
    opts: &bench_profile::ProfileBenchOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = bench_profile::run(opts).await?;
    if json {
        render::out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        render::out(&format!("{}\n", report.markdown()))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocr_eval_is_a_subcommand_and_any_other_word_a_photo() {
        let cli = Cli::try_parse_from(["axle", "ocr", "eval", "--count", "50", "--json"])
            .expect("parses");
        match cli.command {
            Command::Ocr {
                command: Some(OcrCommand::Eval { args }),
                client,
                ..
            } => {
                assert_eq!(args.count, 50);
                assert!(client.json);
            }
            other => panic!("{other:?}"),
        }
        let cli =
            Cli::try_parse_from(["axle", "ocr", "front.jpg", "--side", "front"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Ocr { command: None, ref args, .. } if args.file.as_deref() == Some("front.jpg")
        ));
        assert!(
            Cli::try_parse_from(["axle", "ocr", "eval", "--dir", "x", "--seed", "1"]).is_err(),
            "a directory is read as it is: no seed"
        );
    }
}
