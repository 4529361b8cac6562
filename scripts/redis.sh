#!/usr/bin/env bash
# Makes sure the Redis the shared-cache tests use answers at redis://127.0.0.1:6379,
# idempotently, as root or through sudo. Each step runs only when needed:
#   1. install the distribution's `redis-server` package (apt-get, Debian) when missing,
#   2. start it when nothing answers on the port: the distribution's service where one
#      can be started (systemd or SysV init), else a redis-server of its own, bound to
#      127.0.0.1 only, without persistence (a test cache: nothing in it must survive).
# A machine where the port already answers PING is left untouched, and no sudo is asked
# for. With AXLE_TEST_REDIS_URL set the tests use that server instead and nothing is done.
#
# AXLE_SETUP_REDIS_PORT (default 6379) exists to try this script against a scratch port;
# the tests always use 6379.
set -euo pipefail

port="${AXLE_SETUP_REDIS_PORT:-6379}"

say() { echo "redis: $*"; }
fail() {
  echo "redis: $*" >&2
  echo "redis: the shared-cache tests need Redis at redis://127.0.0.1:$port;" \
    "or set AXLE_TEST_REDIS_URL to a server they may use" >&2
  exit 1
}

if [ -n "${AXLE_TEST_REDIS_URL:-}" ]; then
  say "AXLE_TEST_REDIS_URL is set: the tests use that server, nothing to set up"
  exit 0
fi

# PING over bash's /dev/tcp: no client needed to find out.
answers() {
  local reply=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3>&- 3<&-
  [ "${reply%$'\r'}" = "+PONG" ]
}

if answers; then
  say "Redis ready at redis://127.0.0.1:$port"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo: cannot set up Redis"
  SUDO=(sudo)
fi

# 1. Install.
if ! command -v redis-server >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 ||
    fail "Redis is not installed and this is not a Debian-style system (no apt-get): install it"
  say "installing Redis from the distribution's packages"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi

# 2. Start: the distribution's service on the default port, else a server of our own.
if [ "$port" = 6379 ] && [ -d /run/systemd/system ]; then
  say "starting the redis-server service"
  "${SUDO[@]}" systemctl start redis-server || true
elif [ "$port" = 6379 ] && [ -x /etc/init.d/redis-server ]; then
  say "starting the redis-server service"
  "${SUDO[@]}" /etc/init.d/redis-server start >/dev/null || true
fi
for _ in $(seq 1 20); do
  answers && break
  sleep 0.25
done
if ! answers; then
  say "starting redis-server on 127.0.0.1:$port (no persistence)"
  owner=()
  if id redis >/dev/null 2>&1; then owner=(runuser -u redis --); fi
  [ "$(id -u)" -eq 0 ] || owner=()
  "${SUDO[@]}" "${owner[@]}" redis-server --bind 127.0.0.1 --port "$port" \
    --save "" --appendonly no --dir /tmp --daemonize yes \
    --logfile "/tmp/axle-redis-$port.log"
  for _ in $(seq 1 40); do
    answers && break
    sleep 0.25
  done
fi
answers || fail "redis-server did not answer on port $port; see /tmp/axle-redis-$port.log"
say "Redis ready at redis://127.0.0.1:$port"
