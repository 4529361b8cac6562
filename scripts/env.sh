# Sourced by the other scripts: one place that decides where builds go.
#
# A build directory outside the clone is reused when it exists, so a fresh clone on a
# machine that has built Axle before does not compile every dependency again.
# Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/axle/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# Tests start many servers; keep the output readable.
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"
mkdir -p "$CARGO_TARGET_DIR"
