#!/usr/bin/env bash
# Installs buf (protobuf linter) from the npm package @bufbuild/buf into ./.tools, once.
# Prints the path of the buf binary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION="1.75.0"
prefix=".tools/buf-$BUF_VERSION"
bin="$prefix/node_modules/.bin/buf"
if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -qx "$BUF_VERSION"; then
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@bufbuild/buf@$BUF_VERSION" >&2
fi
echo "$PWD/$bin"
