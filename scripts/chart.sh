#!/usr/bin/env bash
# Checks the Helm chart (helm/axle) without a cluster: renders the default values and
# every example, lints, validates against the Kubernetes schemas, and has each service's
# binary parse the configuration the chart renders for it. See scripts/chart/check.py.
# The Python tools (Helm's SDK, kubernetes-validate; pinned in
# scripts/chart/requirements.txt) go into a virtual environment under ~/.cache/axle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

python="$(scripts/python-venv.sh scripts/chart/requirements.txt)"
# Every binary of the workspace: the chart's Deployments run them by name.
cargo build --workspace --bins --locked --quiet
exec "$python" scripts/chart/check.py --bin-dir "$CARGO_TARGET_DIR/debug"
