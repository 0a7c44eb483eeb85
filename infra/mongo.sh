#!/usr/bin/env bash
# A MongoDB-wire server for the integration tests on 127.0.0.1:27018:
# de.bwaldvogel:mongo-java-server (Maven Central) with its H2 backend, run by
# the small main class infra/mongo/src/PromptoptMongoServer.java. No real
# mongod can be installed here; infra/README.md says why not FerretDB.
#   infra/mongo.sh start|stop|status|restart|install
# State: .infra/mongo/{libs,classes,data/mongo.mv.db,mongo.log,mongo.pid}.
# PROMPTOPT_MONGO_STORE=memory keeps everything in memory instead (lost on stop).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

M_HOST=127.0.0.1
M_PORT="${PROMPTOPT_MONGO_PORT:-27018}"
MDIR="$STATE/mongo"
LIBS="$MDIR/libs"
CLASSES="$MDIR/classes"
DATA="$MDIR/data"
LOG="$MDIR/mongo.log"
PIDF="$MDIR/mongo.pid"
POM="$INFRA_DIR/mongo/pom.xml"
SRC="$INFRA_DIR/mongo/src/PromptoptMongoServer.java"
MAIN=PromptoptMongoServer
STORE_KIND="${PROMPTOPT_MONGO_STORE:-h2}"
START_TIMEOUT="${PROMPTOPT_MONGO_START_TIMEOUT:-60}"
HEAP="${PROMPTOPT_MONGO_HEAP:--Xms64m -Xmx512m}"

ensure_tools() {
  command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# Jars are (re)gathered when the pom changed; the class is recompiled when
# the source or the jars changed.
do_install() {
  local want have="" csum chave=""
  want="$(sha256sum "$POM" | cut -c1-16)"
  [[ -f "$LIBS/.pom-sha" ]] && have="$(cat "$LIBS/.pom-sha")"
  if [[ "$want" != "$have" ]]; then
    ensure_tools
    say "mongo: fetching mongo-java-server's jars from Maven Central into $LIBS (mvn)"
    mkdir -p "$MDIR"
    rm -rf "$LIBS.tmp"
    if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$LIBS.tmp" >"$MDIR/install.log" 2>&1; then
      tail_log "$MDIR/install.log"
      die "mongo: mvn dependency:copy-dependencies failed"
    fi
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    echo "$want" >"$LIBS/.pom-sha"
  fi
  csum="$(cat "$SRC" "$LIBS/.pom-sha" | sha256sum | cut -c1-16)"
  [[ -f "$CLASSES/.src-sha" ]] && chave="$(cat "$CLASSES/.src-sha")"
  if [[ "$csum" != "$chave" ]]; then
    ensure_tools
    say "mongo: compiling $(basename "$SRC")"
    rm -rf "$CLASSES"
    mkdir -p "$CLASSES"
    javac -nowarn -d "$CLASSES" -cp "$LIBS/*" "$SRC" >"$MDIR/javac.log" 2>&1 ||
      { tail_log "$MDIR/javac.log"; die "mongo: javac failed"; }
    echo "$csum" >"$CLASSES/.src-sha"
  fi
}

store_arg() {
  case "$STORE_KIND" in
    memory) echo memory ;;
    h2) echo "h2:$DATA/mongo.mv.db" ;;
    *) die "mongo: PROMPTOPT_MONGO_STORE must be h2 or memory, not '$STORE_KIND'" ;;
  esac
}

our_pid() {
  local pid
  pid="$(read_pid "$PIDF")"
  if [[ -n "$pid" ]] && pid_cmd_has "$pid" "$MAIN"; then echo "$pid"; fi
}

healthy() {
  port_open "$M_HOST" "$M_PORT" || return 1
  "$PYTHON" - "mongodb://$M_HOST:$M_PORT/" <<'EOF'
import sys
try:
    from pymongo import MongoClient
except ImportError:
    print("pymongo not installed: checked the TCP port only", file=sys.stderr)
    sys.exit(0)
c = MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000, connectTimeoutMS=3000)
try:
    c.admin.command("ping")
finally:
    c.close()
EOF
}

launch() {
  printf '\n===== infra/mongo.sh start at %s (%s) =====\n' "$(date -Is)" "$STORE_KIND" >>"$LOG"
  # setsid: own session, so a Ctrl-C in the calling shell does not reach it.
  # Logging: warnings only; the wire handler logs every failed command (a
  # duplicate key, say) with a stack trace, which the client gets anyway.
  # shellcheck disable=SC2086
  setsid java $HEAP -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoWireProtocolHandler=off \
    -cp "$CLASSES:$LIBS/*" "$MAIN" "$M_HOST" "$M_PORT" "$(store_arg)" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDF"
}

do_start() {
  local pid
  pid="$(our_pid)"
  if [[ -n "$pid" ]]; then
    say "mongo: already running (pid $pid) on $M_HOST:$M_PORT"
    return 0
  fi
  rm -f "$PIDF"
  if port_open "$M_HOST" "$M_PORT"; then
    if healthy 2>/dev/null; then
      say "mongo: $M_HOST:$M_PORT is already served by another process (pid $(port_owner "$M_PORT")); using it"
      return 0
    fi
    die "mongo: port $M_PORT is taken by another process (pid $(port_owner "$M_PORT"))"
  fi
  do_install
  mkdir -p "$DATA"
  say "mongo: starting mongo-java-server ($STORE_KIND store) on $M_HOST:$M_PORT (log $LOG)"
  launch
  pid="$(cat "$PIDF")"
  if ! wait_until "$START_TIMEOUT" "$pid" healthy; then
    if [[ "$STORE_KIND" == h2 ]] && ! pid_alive "$pid" && [[ -f "$DATA/mongo.mv.db" ]] &&
        tail -n 50 "$LOG" | grep -q 'MVStoreException\|org.h2'; then
      # A store left broken (e.g. by a SIGKILL mid-write): keep it aside and start empty.
      local aside
      aside="$DATA/mongo.mv.db.broken-$(date +%Y%m%d%H%M%S)"
      say "mongo: the H2 store would not open; moving it to $aside and starting empty"
      mv "$DATA/mongo.mv.db" "$aside"
      launch
      pid="$(cat "$PIDF")"
      wait_until "$START_TIMEOUT" "$pid" healthy && { say "mongo: up (pid $pid): mongodb://$M_HOST:$M_PORT/"; return 0; }
    fi
    if pid_alive "$pid"; then
      say "mongo: not answering after ${START_TIMEOUT}s"
    else
      say "mongo: process exited during startup"
    fi
    tail_log "$LOG"
    if pid_alive "$pid"; then stop_pid "$pid" mongo 10; fi
    rm -f "$PIDF"
    die "mongo: failed to start (log $LOG)"
  fi
  say "mongo: up (pid $pid): mongodb://$M_HOST:$M_PORT/"
}

do_stop() {
  local pid
  pid="$(our_pid)"
  if [[ -z "$pid" ]]; then
    say "mongo: not running"
    rm -f "$PIDF"
    return 0
  fi
  stop_pid "$pid" mongo "${PROMPTOPT_MONGO_STOP_TIMEOUT:-20}"
  rm -f "$PIDF"
}

do_status() {
  local pid
  pid="$(our_pid)"
  if [[ -n "$pid" ]] && healthy 2>/dev/null; then
    local kind=h2
    pid_cmd_has "$pid" " memory" && kind=memory
    echo "mongo: running on $M_HOST:$M_PORT (pid $pid, mongo-java-server, $kind store)"
    return 0
  fi
  if [[ -n "$pid" ]]; then echo "mongo: process $pid alive but not answering on $M_HOST:$M_PORT"; return 1; fi
  echo "mongo: not running"
  return 1
}

if [[ "${1:-}" == health ]]; then healthy; exit; fi
if [[ "${1:-}" == log ]]; then echo "$LOG"; exit 0; fi
usage_main mongo "$@"
