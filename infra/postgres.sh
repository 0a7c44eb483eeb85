#!/usr/bin/env bash
# PostgreSQL (Debian's packages) for the integration tests, on 127.0.0.1:15432.
#   infra/postgres.sh start|stop|status|restart|install
# Cluster in .infra/postgres/data, log in .infra/postgres/postgres.log.
# Trust auth on loopback; superuser role `promptopt`, database `promptopt`:
#   postgresql://promptopt@127.0.0.1:15432/promptopt
# PostgreSQL refuses to run as root, so as root the server runs as the
# system user `promptopt` (created here if missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST=127.0.0.1
PG_PORT="${PROMPTOPT_PG_PORT:-15432}"
PG_USER=promptopt
PG_DB=promptopt
PGROOT="$STATE/postgres"
PGDATA="$PGROOT/data"
PGLOG="$PGROOT/postgres.log"
START_TIMEOUT="${PROMPTOPT_PG_START_TIMEOUT:-60}"
RUN_USER=promptopt

# .infra/postgres may be a link to /var/tmp (see prepare_dirs): hand the
# server user the real path, which it can reach.
resolve_paths() {
  if [[ -L "$STATE/postgres" ]]; then
    PGROOT="$(readlink -f "$STATE/postgres")"
    PGDATA="$PGROOT/data"
    PGLOG="$PGROOT/postgres.log"
  fi
}
resolve_paths

find_pg_bin() {
  local initdb
  initdb="$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$initdb" ]] && dirname "$initdb"
}

do_install() {
  if [[ -z "$(find_pg_bin)" ]]; then
    # The Debian package would also create and start a "main" cluster on
    # 5432; we never use it, so ask postgresql-common not to create one.
    if [[ "$(id -u)" == 0 && ! -e /etc/postgresql-common/createcluster.conf ]]; then
      mkdir -p /etc/postgresql-common
      echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
    fi
    apt_install postgresql postgresql-client
  fi
  PG_BIN="$(find_pg_bin)"
  [[ -n "$PG_BIN" ]] || die "postgres: no /usr/lib/postgresql/*/bin/initdb after install"
  if [[ "$(id -u)" == 0 ]] && ! id -u "$RUN_USER" >/dev/null 2>&1; then
    say "postgres: creating system user $RUN_USER (postgres refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$RUN_USER"
  fi
}

# as_pg CMD...: run CMD as the server's OS user.
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && runuser -u "$RUN_USER" -- "$@")
  else
    "$@"
  fi
}

psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"; }

running() { [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

accepting() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -t 2; }

healthy() {
  "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -t 2 &&
    psql_q -d "$PG_DB" -tAc 'SELECT 1' >/dev/null 2>&1
}

prepare_dirs() {
  mkdir -p "$PGROOT"
  if [[ "$(id -u)" == 0 ]]; then
    chown "$RUN_USER:$RUN_USER" "$PGROOT"
    if ! as_pg test -w "$PGROOT"; then
      # The repo lives where $RUN_USER cannot reach (e.g. under /root): keep
      # the cluster in /var/tmp and link it into .infra.
      local real
      real="/var/tmp/promptopt-infra-$(printf '%s' "$REPO" | md5sum | cut -c1-12)/postgres"
      say "postgres: $PGROOT is not reachable by user $RUN_USER; using $real"
      rm -rf "$real"    # left from an earlier .infra that was deleted
      mkdir -p "$real"
      chown "$RUN_USER:$RUN_USER" "$real"
      chmod 755 "$(dirname "$real")"
      rmdir "$PGROOT" 2>/dev/null || true
      [[ -e "$PGROOT" ]] || ln -s "$real" "$PGROOT"
      resolve_paths
    fi
  fi
}

init_cluster() {
  [[ -f "$PGDATA/PG_VERSION" ]] && return 0
  say "postgres: initdb $PGDATA"
  rm -rf "$PGDATA"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U "$PG_USER" --auth=trust -E UTF8 --locale=C \
    --no-sync >"$PGROOT/initdb.log" 2>&1 || { tail_log "$PGROOT/initdb.log"; die "postgres: initdb failed"; }
}

ensure_dbs() {
  local db
  for db in "$PG_DB" ${PROMPTOPT_PG_EXTRA_DBS:-}; do
    if [[ -z "$(psql_q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
      say "postgres: creating database $db"
      psql_q -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$PG_USER\""
    fi
  done
}

do_start() {
  do_install
  if running; then
    say "postgres: already running on $PG_HOST:$PG_PORT"
    ensure_dbs
    return 0
  fi
  if port_open "$PG_HOST" "$PG_PORT"; then
    if healthy; then
      say "postgres: $PG_HOST:$PG_PORT is already served by another process (pid $(port_owner "$PG_PORT")); using it"
      ensure_dbs
      return 0
    fi
    die "postgres: port $PG_PORT is taken by another process (pid $(port_owner "$PG_PORT"))"
  fi
  prepare_dirs
  init_cluster
  rm -f "$PGDATA/postmaster.pid" 2>/dev/null || true   # stale after a SIGKILL; pg_ctl said not running
  say "postgres: starting on $PG_HOST:$PG_PORT (log $PGLOG)"
  # Settings go on the command line so they apply to existing clusters too.
  # fsync etc. off: this is a throwaway test database.
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PGLOG" -w -t "$START_TIMEOUT" -o \
      "-p $PG_PORT -h $PG_HOST -k '' -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB" \
      >/dev/null; then
    tail_log "$PGLOG"
    die "postgres: failed to start within ${START_TIMEOUT}s"
  fi
  wait_until "$START_TIMEOUT" "" accepting || { tail_log "$PGLOG"; die "postgres: not accepting connections"; }
  ensure_dbs
  healthy || { tail_log "$PGLOG"; die "postgres: database $PG_DB not usable"; }
  say "postgres: up: postgresql://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
}

do_stop() {
  PG_BIN="$(find_pg_bin)"
  [[ -n "$PG_BIN" ]] || { say "postgres: not installed"; return 0; }
  if ! running; then
    say "postgres: not running"
    return 0
  fi
  say "postgres: stopping"
  if as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 20 >/dev/null 2>&1; then
    say "postgres: stopped"
    return 0
  fi
  say "postgres: fast shutdown timed out; immediate shutdown"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 10 >/dev/null 2>&1 && return 0
  local pid
  pid="$(head -n1 "$PGDATA/postmaster.pid" 2>/dev/null | tr -dc '0-9')"
  [[ -n "$pid" ]] && stop_pid "$pid" postgres 1
}

do_status() {
  PG_BIN="$(find_pg_bin)"
  if [[ -n "$PG_BIN" ]] && running && healthy; then
    echo "postgres: running on $PG_HOST:$PG_PORT (pid $(head -n1 "$PGDATA/postmaster.pid"))"
    return 0
  fi
  echo "postgres: not running"
  return 1
}

# For other scripts: `infra/postgres.sh health` exits 0 if the server answers.
if [[ "${1:-}" == health ]]; then
  PG_BIN="$(find_pg_bin)"; [[ -n "$PG_BIN" ]] && healthy; exit
fi
if [[ "${1:-}" == log ]]; then echo "$PGLOG"; exit 0; fi
usage_main postgres "$@"
