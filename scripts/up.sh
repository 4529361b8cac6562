#!/usr/bin/env bash
# Sets up and starts the whole suite on the embedded default: every service plus the
# vendor sandbox in one process, no credentials, no external service. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
cargo build --release --locked -p cli --bin axle
exec "$CARGO_TARGET_DIR/release/axle" up "$@"
