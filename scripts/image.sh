#!/usr/bin/env bash
# Tests the container image (Dockerfile), in two parts:
#   1. Its shape, on the host, always (as root): scripts/image-rootfs.sh assembles the
#      image's root file system from the workspace's binaries, and the binaries run in it
#      under chroot as UID 65532 with nothing else there (no shell): each service binary
#      accepts its shipped config, every service that is built starts, `axle health`
#      (the image's HEALTHCHECK) says SERVING, and SIGTERM stops them with exit 0.
#   2. The image itself, only where a container builder answers (`docker info`):
#      docker build, then the same checks through docker run and the HEALTHCHECK.
# Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

say() { echo "image: $*"; }
fail() { echo "image: FAIL $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until `axle health` run by "$@" says SERVING (20 s at most).
wait_serving() {
  local what="$1"; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then say "$what: SERVING"; return 0; fi
    sleep 0.2
  done
  "$@" || true
  return 1
}

# ---- 1. the root file system under chroot -------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v chroot >/dev/null 2>&1; then
  say "not root (or no chroot): skipping the root file system test"
else
  cargo build --workspace --bins --locked --quiet
  work="$(mktemp -d)"
  pids=()
  cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
  }
  trap cleanup EXIT
  root="$work/rootfs"
  scripts/image-rootfs.sh "$root" "$CARGO_TARGET_DIR/debug"
  for shell in bin/sh bin/bash usr/bin/sh usr/bin/env; do
    [ ! -e "$root/$shell" ] || fail "/$shell is in the image"
  done
  chroot_bin="$(command -v chroot)"
  # The image's environment only (the Dockerfile's ENV), nothing of the host's.
  run() { env -i PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$@"; }
  in_image() { run "$chroot_bin" --userspec=65532:65532 "$root" "$@"; }

  [ "$(in_image /usr/local/bin/axle --version | cut -d' ' -f1)" = axle ] || fail "axle does not run in the image"
  # Every service binary with a shipped config/<binary>.toml.
  for cfg in config/*.toml; do
    svc="$(basename "$cfg" .toml)"
    [ -x "$root/usr/local/bin/$svc" ] || continue
    in_image "/usr/local/bin/$svc" --config "/etc/axle/$svc.toml" --print-config >/dev/null ||
      fail "$svc refuses /etc/axle/$svc.toml in the image"
  done
  say "binaries run as 65532 with only their libraries; shipped configs accepted"

  for svc in vin-service plate-service aggregator violation-service ocr-service; do
    [ -x "$root/usr/local/bin/$svc" ] || continue
    port="$(free_port)"
    extra=()
    [ "$svc" = plate-service ] && extra=(AXLE_VENDORS__PLATECB__WEBHOOK_LISTEN=127.0.0.1:0)
    [ "$svc" = violation-service ] && extra=(AXLE_VENDORS__APISTORE__CALLBACK__WEBHOOK_LISTEN=127.0.0.1:0)
    # The image carries no OCR models (mounted on Kubernetes): the vendor reads photos.
    [ "$svc" = ocr-service ] && extra=(AXLE_LOCAL__ENABLED=false AXLE_STRATEGY=vendor_only)
    # env execs chroot, which execs the service: $! is the service's own pid.
    env -i PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
      AXLE_SERVER__LISTEN="127.0.0.1:$port" AXLE_SERVER__METRICS_LISTEN=off "${extra[@]}" \
      "$chroot_bin" --userspec=65532:65532 "$root" "/usr/local/bin/$svc" --config "/etc/axle/$svc.toml" \
      >"$work/$svc.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_serving "$svc in the image" in_image /usr/local/bin/axle health --endpoint "127.0.0.1:$port" ||
      { cat "$work/$svc.log" >&2; fail "$svc did not become SERVING"; }
    kill -TERM "$pid"
    code=0
    wait "$pid" || code=$?
    [ "$code" -eq 0 ] || { cat "$work/$svc.log" >&2; fail "$svc exited $code after SIGTERM"; }
    say "$svc stopped cleanly on SIGTERM"
  done
fi

# ---- 2. the image, where a builder is ----------------------------------------------
if ! command -v docker >/dev/null 2>&1; then
  say "SKIPPED the docker build: no docker command (the root file system test above still ran)"
  exit 0
fi
if ! info="$(docker info 2>&1)"; then
  say "SKIPPED the docker build: no container builder answers ($(echo "$info" | grep -m1 -i -E 'error|cannot' || echo 'docker info failed')); the root file system test above still ran"
  exit 0
fi
tag="axle:test-$$"
say "docker build -t $tag ."
docker build -t "$tag" .
cid=""
trap '[ -n "$cid" ] && docker rm -f "$cid" >/dev/null 2>&1; docker rmi -f "$tag" >/dev/null 2>&1 || true' EXIT
[ "$(docker image inspect -f '{{.Config.User}}' "$tag")" = "65532:65532" ] || fail "the image does not run as 65532"
if docker run --rm --entrypoint /bin/sh "$tag" -c true >/dev/null 2>&1; then fail "the image has a shell"; fi
docker run --rm "$tag" vin-service --config /etc/axle/vin-service.toml --print-config >/dev/null ||
  fail "vin-service refuses its shipped config in the image"
cid="$(docker run -d "$tag" vin-service --config /etc/axle/vin-service.toml)"
for _ in $(seq 1 60); do
  state="$(docker inspect -f '{{.State.Health.Status}}' "$cid")"
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || { docker logs "$cid" >&2; fail "the HEALTHCHECK says $state"; }
say "container healthy through its gRPC HEALTHCHECK"
docker stop -t 30 "$cid" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$cid")" = 0 ] || fail "vin-service did not stop cleanly"
say "image ok"
