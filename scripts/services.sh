#!/usr/bin/env bash
# Makes sure the PostgreSQL the store tests use is there, idempotently, as root or
# through sudo: postgres://postgres@127.0.0.1:5432/test with trust authentication (the
# tests send no password). Each step runs only when needed:
#   1. install the distribution's `postgresql` package (apt-get, Debian) when missing,
#   2. create a cluster on the port when none listens there,
#   3. start the cluster when it is stopped,
#   4. create the `postgres` role and the `test` database when missing,
#   5. allow that role into that database from 127.0.0.1 without a password when it
#      cannot get in yet (one pg_hba.conf line for exactly that role, database and
#      address; nothing else is opened). That line still lets any local user connect
#      as the superuser: right for a development or CI machine, not a shared one.
# A machine that already answers on that URL is left untouched, and no sudo is asked for.
# With AXLE_TEST_POSTGRES_URL set the tests use that server instead and nothing is done
# (the way to run them on a shared machine, against a database of your own).
#
# AXLE_SETUP_PG_PORT and AXLE_SETUP_PG_DATABASE (default 5432 and test) exist to try this
# script against a scratch cluster and database without touching the real ones; the
# tests always use 5432 and test.
set -euo pipefail

port="${AXLE_SETUP_PG_PORT:-5432}"
db="${AXLE_SETUP_PG_DATABASE:-test}"
role="postgres"
url="postgresql://$role@127.0.0.1:$port/$db"

say() { echo "services: $*"; }
fail() {
  echo "services: $*" >&2
  echo "services: the store tests need PostgreSQL at $url with trust authentication;" \
    "or set AXLE_TEST_POSTGRES_URL to a database they may use" >&2
  exit 1
}

if [ -n "${AXLE_TEST_POSTGRES_URL:-}" ]; then
  say "AXLE_TEST_POSTGRES_URL is set: the tests use that database, nothing to set up"
  exit 0
fi

# -w: never prompt for a password (a prompt would hang the test command).
can_connect() {
  command -v psql >/dev/null 2>&1 &&
    PGCONNECT_TIMEOUT=5 psql -w -X -q -d "$url" -c 'select 1' >/dev/null 2>&1
}
if can_connect; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo: cannot set up PostgreSQL"
  SUDO=(sudo)
fi
# The cluster's superuser, through its Unix socket (peer authentication), from a
# directory it may read.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -u postgres -- "$@")
  fi
}
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

# 1. Install. postgresql-common's tools (pg_lsclusters, pg_ctlcluster) and a server.
if ! command -v pg_lsclusters >/dev/null 2>&1 || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  command -v apt-get >/dev/null 2>&1 ||
    fail "PostgreSQL is not installed and this is not a Debian-style system (no apt-get): install it"
  say "installing PostgreSQL from the distribution's packages"
  # Through env: sudo resets the environment, DEBIAN_FRONTEND would not reach apt-get.
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  command -v pg_lsclusters >/dev/null 2>&1 ||
    fail "installing the postgresql package did not provide pg_lsclusters (postgresql-common)"
fi

# 2. A cluster on the port: the distribution's package creates `main` on 5432, unless
# its configuration says not to.
cluster_on_port() { pg_lsclusters -h | awk -v p="$port" '$3 == p { print $1, $2; exit }'; }
read -r version cluster < <(cluster_on_port) || true
if [ -z "${version:-}" ]; then
  # The newest server installed.
  version="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 | cut -d/ -f5)"
  cluster="main"
  if [ -d "/etc/postgresql/$version/$cluster" ]; then cluster="axle-$port"; fi
  say "creating PostgreSQL $version cluster '$cluster' on port $port"
  "${SUDO[@]}" pg_createcluster --port "$port" "$version" "$cluster" >/dev/null
fi

# 3. Start it when stopped. Under systemd through its unit, so that systemd tracks it;
# elsewhere (containers) directly.
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  say "starting PostgreSQL $version/$cluster"
  if [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl start "postgresql@$version-$cluster"
  else
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p "$port" ||
    fail "PostgreSQL $version/$cluster did not start; see /var/log/postgresql/postgresql-$version-$cluster.log"
fi

# 4. Role and database.
if [ "$(psql_admin -d postgres -tAc "select 1 from pg_roles where rolname = '$role'")" != 1 ]; then
  say "creating role $role"
  psql_admin -d postgres -c "create role \"$role\" login"
fi
if [ "$(psql_admin -d postgres -tAc "select 1 from pg_database where datname = '$db'")" != 1 ]; then
  say "creating database $db"
  psql_admin -d postgres -c "create database \"$db\" owner \"$role\""
fi

# 5. Trust for exactly this role, database and address, ahead of the distribution's
# password rules (pg_hba.conf is read top down, the first matching line wins).
if ! can_connect; then
  hba="$(psql_admin -d postgres -tAc 'show hba_file')"
  line="host $db $role 127.0.0.1/32 trust"
  if ! "${SUDO[@]}" grep -qxF "$line" "$hba"; then
    say "allowing $role into $db from 127.0.0.1 without a password ($hba)"
    tmp="$(mktemp)"
    {
      echo "# Added by Axle's scripts/services.sh: the store tests connect without a password."
      echo "$line"
      "${SUDO[@]}" cat "$hba"
    } >"$tmp"
    "${SUDO[@]}" cp "$tmp" "$hba"
    rm -f "$tmp"
    psql_admin -d postgres -tAc 'select pg_reload_conf()' >/dev/null
  fi
  can_connect || fail "PostgreSQL runs on port $port but $url does not accept a connection"
fi
say "PostgreSQL ready at $url"
