#!/usr/bin/env bash
# The one command that sets up and runs every check. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "violation city-rule table up to date with its sources"
python3 scripts/violation_city_rules/compile.py --check

step "buf lint (proto/)"
scripts/buf-lint.sh

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo nextest"
cargo nextest run --workspace --locked --no-fail-fast

step "fuzz smoke: every fuzz target a few seconds from its seeds (scripts/fuzz.sh)"
scripts/fuzz.sh smoke "${AXLE_FUZZ_SECONDS:-5}"

step "Helm chart: render, lint, Kubernetes schemas, configs parsed by the services"
scripts/chart.sh

step "container image: its root file system under chroot; docker build where a builder is"
scripts/image.sh

step "clients from proto/: Python and Node against a running suite"
scripts/clients.sh

step "doc tests"
cargo test --workspace --doc --locked
