#!/usr/bin/env bash
# buf lint (STANDARD rules, proto/buf.yaml) plus a build, so an import or type error in a
# contract fails here with buf's message rather than later in cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
buf="$(scripts/install-buf.sh)"
cd proto
"$buf" build
"$buf" lint
echo "buf lint: clean"
