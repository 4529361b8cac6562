#!/usr/bin/env bash
# Fetches the local OCR engine's files into $AXLE_OCR_MODELS (default
# ~/.cache/axle/ocr-models), idempotently, from the Python package registry through pip:
#   - RapidOCR 1.4.4's PP-OCRv4 Chinese detection and recognition models (ONNX), from the
#     rapidocr-onnxruntime wheel;
#   - the ONNX Runtime 1.22.1 shared library, from the onnxruntime wheel (ort loads it
#     with `load-dynamic`: nothing is downloaded at build or run time).
# Both wheels are pinned by version and sha256, and so is every file taken from them.
# Nothing here is committed to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${AXLE_OCR_MODELS:-${HOME:-/root}/.cache/axle/ocr-models}"
RAPIDOCR_WHEEL="rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
RAPIDOCR_SHA256="971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
ORT_VERSION="1.22.1"
ORT_WHEEL="onnxruntime-1.22.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
ORT_SHA256="f6effa1299ac549a05c784d50292e3378dbbf010346ded67400193b09ddc2f04"
# Files taken from the wheels: name in the wheel, name here, sha256.
FILES=(
  "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx ch_PP-OCRv4_det_infer.onnx DET_SHA"
  "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx ch_PP-OCRv4_rec_infer.onnx REC_SHA"
  "onnxruntime/capi/libonnxruntime.so.${ORT_VERSION} libonnxruntime.so LIB_SHA"
)
DET_SHA="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
REC_SHA="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
LIB_SHA="ad9665887025474170d3e71cd28021e7e811c5bf201bc365f953e34a2c4989cc"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

ready=1
for entry in "${FILES[@]}"; do
  read -r _ name var <<<"$entry"
  if [ ! -f "$dest/$name" ] || [ "$(sha_of "$dest/$name")" != "${!var}" ]; then ready=0; fi
done
if [ "$ready" -eq 1 ]; then
  echo "ocr-models: ready in $dest"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || { echo "ocr-models: python3 is needed (pip fetches the wheels)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "ocr-models: fetching rapidocr-onnxruntime 1.4.4 and onnxruntime ${ORT_VERSION} through pip"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work" \
  "rapidocr-onnxruntime==1.4.4"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work" \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  "onnxruntime==${ORT_VERSION}"
check() {
  local got
  got="$(sha_of "$1")"
  if [ "$got" != "$2" ]; then
    echo "ocr-models: $1 has sha256 $got, expected $2: refusing it" >&2
    exit 1
  fi
}
check "$work/$RAPIDOCR_WHEEL" "$RAPIDOCR_SHA256"
check "$work/$ORT_WHEEL" "$ORT_SHA256"
mkdir -p "$dest"
for entry in "${FILES[@]}"; do
  read -r member name var <<<"$entry"
  wheel="$work/$RAPIDOCR_WHEEL"
  case "$member" in onnxruntime/*) wheel="$work/$ORT_WHEEL" ;; esac
  python3 - "$wheel" "$member" "$work/$name" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as out:
    shutil.copyfileobj(src, out)
PY
  check "$work/$name" "${!var}"
  mv "$work/$name" "$dest/$name"
done
echo "ocr-models: ready in $dest"
