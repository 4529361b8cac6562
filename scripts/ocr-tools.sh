#!/usr/bin/env bash
# What rendering synthetic 行驶证 photos needs (scripts/ocr_synth/render.py, used by the
# OCR evaluation), installed idempotently: a CJK font from the distribution
# (fonts-wqy-zenhei) and Pillow, pinned, in a virtualenv under ~/.cache/axle.
# Prints the virtualenv's python on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HOME:-/root}/.cache/axle/venv-ocr"
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "ocr-tools: installing fonts-wqy-zenhei" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei fontconfig >&2
fi
if ! "$venv/bin/python" -c 'import PIL, sys; sys.exit(PIL.__version__ != "11.3.0")' 2>/dev/null; then
  echo "ocr-tools: creating $venv with Pillow 11.3.0" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pillow==11.3.0" >&2
fi
echo "$venv/bin/python"
