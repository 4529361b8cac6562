#!/usr/bin/env bash
# Creates (once) a Python virtual environment with exactly the pinned requirements of
# FILE and prints its python's path: scripts/python-venv.sh scripts/chart/requirements.txt
#
# The environment lives under ~/.cache/axle (outside the clone, reused by later runs and
# other clones) in a folder named by the requirements' hash: changing a pin makes a new
# one, so an environment is never half-upgraded. Needs python3 with venv (Debian:
# python3-venv, installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:?usage: scripts/python-venv.sh REQUIREMENTS_FILE}"
[ -f "$req" ] || { echo "python-venv: no such file: $req" >&2; exit 1; }

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "python-venv: installing python3-venv" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
fi

hash="$( (python3 --version; cat "$req") | sha256sum | cut -c1-16)"
name="$(basename "$(dirname "$req")")"
dir="${AXLE_CACHE_DIR:-${HOME:-/root}/.cache/axle}/venv-$name-$hash"
if [ ! -f "$dir/.complete" ]; then
  echo "python-venv: creating $dir from $req" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir/bin/python"
