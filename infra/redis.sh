#!/usr/bin/env bash
# Redis (Debian's redis-server) on 127.0.0.1:16379: the cache every process shares (LLM
# responses of deterministic calls, optimization results by prompt hash, patterns by type).
#   infra/redis.sh start|stop|status|restart|install
# State in .infra/redis/ (pid, log); nothing is persisted: a cache may start empty.
# PROMPTOPT_REDIS_PORT moves it (settings read the same variable, or PROMPTOPT_REDIS_URL).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

R_HOST=127.0.0.1
R_PORT="${PROMPTOPT_REDIS_PORT:-16379}"
RDIR="$STATE/redis"
LOG="$RDIR/redis.log"
PIDF="$RDIR/redis.pid"
START_TIMEOUT="${PROMPTOPT_REDIS_START_TIMEOUT:-30}"
# Bounded like a cache: least-recently-used keys go first when full.
MAXMEMORY="${PROMPTOPT_REDIS_MAXMEMORY:-256mb}"

do_install() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis: no redis-server after apt-get install"
}

healthy() { [[ "$(redis-cli -h "$R_HOST" -p "$R_PORT" ping 2>/dev/null)" == PONG ]]; }

do_start() {
  do_install
  local pid
  pid="$(read_pid "$PIDF")"
  if [[ -n "$pid" ]] && healthy; then
    say "redis: already running on $R_HOST:$R_PORT (pid $pid)"
    return 0
  fi
  if port_open "$R_HOST" "$R_PORT"; then
    if healthy; then
      say "redis: $R_HOST:$R_PORT is already served by another process (pid $(port_owner "$R_PORT")); using it"
      return 0
    fi
    die "redis: port $R_PORT is taken by another process (pid $(port_owner "$R_PORT"))"
  fi
  mkdir -p "$RDIR"
  say "redis: starting on $R_HOST:$R_PORT (log $LOG)"
  # No RDB/AOF: the data is a cache. protected-mode stays on (loopback only anyway).
  redis-server --bind "$R_HOST" --port "$R_PORT" --daemonize yes --pidfile "$PIDF" \
    --logfile "$LOG" --dir "$RDIR" --save '' --appendonly no \
    --maxmemory "$MAXMEMORY" --maxmemory-policy allkeys-lru >/dev/null
  wait_until "$START_TIMEOUT" "" healthy || { tail_log "$LOG"; die "redis: not answering PING"; }
  say "redis: up (pid $(read_pid "$PIDF")): redis://$R_HOST:$R_PORT/0"
}

do_stop() {
  local pid
  pid="$(read_pid "$PIDF")"
  if [[ -z "$pid" ]]; then
    say "redis: not running"
    return 0
  fi
  pid_cmd_has "$pid" redis-server || { say "redis: pid $pid is not redis-server; leaving it"; return 0; }
  stop_pid "$pid" redis 10
  rm -f "$PIDF"
}

do_status() {
  local pid
  pid="$(read_pid "$PIDF")"
  if [[ -n "$pid" ]] && healthy; then
    echo "redis: running on $R_HOST:$R_PORT (pid $pid)"
    return 0
  fi
  echo "redis: not running"
  return 1
}

if [[ "${1:-}" == health ]]; then healthy; exit; fi
if [[ "${1:-}" == log ]]; then echo "$LOG"; exit 0; fi
usage_main redis "$@"
