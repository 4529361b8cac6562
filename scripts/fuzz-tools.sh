#!/usr/bin/env bash
# Installs what the fuzz targets (fuzz/, scripts/fuzz.sh) need, idempotently:
#   - cargo-fuzz, pinned, from the Rust package registry (`cargo install --locked`). It
#     drives libFuzzer (compiled from the libfuzzer-sys crate's bundled sources by its
#     build script, so no LLVM or clang from the distribution) and, with
#     `--sanitizer none`, runs on the stable toolchain: the coverage instrumentation is
#     rustc's stable `-Cpasses=sancov-module`.
#   - a C++ compiler for those libFuzzer sources (g++, Debian's build-essential).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_FUZZ_VERSION="0.13.2"

if ! command -v c++ >/dev/null 2>&1; then
  echo "fuzz-tools: installing g++ (libFuzzer is C++)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >&2
fi

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "fuzz-tools: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  # Built in a temporary directory cargo removes afterwards, not in the workspace's
  # build cache (scripts/env.sh exports CARGO_TARGET_DIR).
  env -u CARGO_TARGET_DIR \
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" >&2
fi
