#!/usr/bin/env bash
# Start (installing first when missing) the servers the integration tests use,
# and wait until each answers: PostgreSQL 127.0.0.1:15432, Kafka
# 127.0.0.1:19092, MongoDB-wire 127.0.0.1:27018, Redis 127.0.0.1:16379 (each port
# moves with PROMPTOPT_<PG|KAFKA|MONGO|REDIS>_PORT). Already running: no-op.
# Also installs chromium, the browser of tests/e2e.
# Exits non-zero, with the tail of the failing server's log, if one does not
# come up in time. See infra/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVERS=(postgres kafka mongo redis)
TOOLS=(chromium actionlint)  # installed only: the e2e browser, the CI workflow linter
t0=$SECONDS

# Installs one after the other (two mvn runs must not share ~/.m2 at once).
for s in "${TOOLS[@]}" "${SERVERS[@]}"; do
  bash "$INFRA_DIR/$s.sh" install || die "$s: install failed"
done

# Starts in parallel; each start waits for its own server's health check.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
declare -A pids=()
for s in "${SERVERS[@]}"; do
  bash "$INFRA_DIR/$s.sh" start >"$tmp/$s.out" 2>&1 &
  pids[$s]=$!
done
failed=()
for s in "${SERVERS[@]}"; do
  rc=0
  wait "${pids[$s]}" || rc=$?
  cat "$tmp/$s.out" >&2
  ((rc == 0)) || failed+=("$s")
done

# Health once more, all together (also catches a server that died meanwhile).
for s in "${SERVERS[@]}"; do
  [[ " ${failed[*]} " == *" $s "* ]] && continue
  if ! bash "$INFRA_DIR/$s.sh" health >/dev/null 2>&1; then
    say "$s: started but not healthy"
    tail_log "$(bash "$INFRA_DIR/$s.sh" log)"
    failed+=("$s")
  fi
done

if ((${#failed[@]})); then
  say "FAILED to bring up: ${failed[*]} (logs under $STATE/; details above)"
  exit 1
fi
say "all up in $((SECONDS - t0))s: postgres 127.0.0.1:${PROMPTOPT_PG_PORT:-15432}," \
  "kafka 127.0.0.1:${PROMPTOPT_KAFKA_PORT:-19092}, mongo 127.0.0.1:${PROMPTOPT_MONGO_PORT:-27018}," \
  "redis 127.0.0.1:${PROMPTOPT_REDIS_PORT:-16379} (source infra/env.sh)"
