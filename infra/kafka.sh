#!/usr/bin/env bash
# Apache Kafka 4.x for the integration tests: one KRaft node (broker +
# controller) on 127.0.0.1:19092 (PLAINTEXT), controller on 127.0.0.1:19093.
#   infra/kafka.sh start|stop|status|restart|install
# The release jars come from Maven Central (infra/kafka/pom.xml, gathered by
# `mvn dependency:copy-dependencies` into .infra/kafka/libs); the broker runs
# as `java -cp 'libs/*' kafka.Kafka server.properties`.
# State: .infra/kafka/{data,kafka.log,kafka.pid,server.properties,cluster.id}.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

K_HOST=127.0.0.1
K_PORT="${PROMPTOPT_KAFKA_PORT:-19092}"
K_CTRL_PORT="${PROMPTOPT_KAFKA_CONTROLLER_PORT:-19093}"
K_BOOTSTRAP="$K_HOST:$K_PORT"
KDIR="$STATE/kafka"
LIBS="$KDIR/libs"
DATA="$KDIR/data"
LOG="$KDIR/kafka.log"
PIDF="$KDIR/kafka.pid"
CONF="$KDIR/server.properties"
LOG4J="$KDIR/log4j2.properties"
POM="$INFRA_DIR/kafka/pom.xml"
START_TIMEOUT="${PROMPTOPT_KAFKA_START_TIMEOUT:-60}"
HEAP="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"

ensure_tools() {
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# The jars are (re)gathered when missing or when the pom changed.
do_install() {
  local want have=""
  want="$(sha256sum "$POM" | cut -c1-16)"
  [[ -f "$LIBS/.pom-sha" ]] && have="$(cat "$LIBS/.pom-sha")"
  [[ "$want" == "$have" ]] && return 0
  ensure_tools
  say "kafka: fetching the broker's jars from Maven Central into $LIBS (mvn)"
  mkdir -p "$KDIR"
  rm -rf "$LIBS.tmp"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIBS.tmp" >"$KDIR/install.log" 2>&1; then
    tail_log "$KDIR/install.log"
    die "kafka: mvn dependency:copy-dependencies failed"
  fi
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  echo "$want" >"$LIBS/.pom-sha"
}

write_config() {
  cat >"$CONF" <<EOF
# Written by infra/kafka.sh on every start; edit that script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$K_HOST:$K_CTRL_PORT
listeners=PLAINTEXT://$K_HOST:$K_PORT,CONTROLLER://$K_HOST:$K_CTRL_PORT
advertised.listeners=PLAINTEXT://$K_HOST:$K_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=4
default.replication.factor=1
# Topics come from the catalogue (promptopt topics create, and every worker at start), never
# from a client that touches a name first and gets the broker's defaults.
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
  cat >"$LOG4J" <<'EOF'
# Written by infra/kafka.sh: everything to stdout, which goes to kafka.log.
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

kjava() { java -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" "$@"; }

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local cid
  if [[ -s "$KDIR/cluster.id" ]]; then
    cid="$(cat "$KDIR/cluster.id")"
  else
    cid="$(kjava kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: could not make a cluster id (got '$cid')"
    echo "$cid" >"$KDIR/cluster.id"
  fi
  say "kafka: formatting $DATA (cluster id $cid)"
  mkdir -p "$DATA"
  if ! kjava kafka.tools.StorageTool format -t "$cid" -c "$CONF" --ignore-formatted \
      >"$KDIR/format.log" 2>&1; then
    tail_log "$KDIR/format.log"
    die "kafka: storage format failed"
  fi
}

our_pid() {
  local pid
  pid="$(read_pid "$PIDF")"
  if [[ -n "$pid" ]] && pid_cmd_has "$pid" kafka.Kafka; then echo "$pid"; fi
}

# healthy [WARMUP]: TCP connect + a metadata request through aiokafka. With
# WARMUP, also ask for a group coordinator, which makes the broker create
# __consumer_offsets now rather than in the first test.
healthy() {
  port_open "$K_HOST" "$K_PORT" || return 1
  "$PYTHON" - "$K_BOOTSTRAP" "${1:-}" <<'EOF'
import asyncio, sys
try:
    from aiokafka.admin import AIOKafkaAdminClient
except ImportError:
    print("aiokafka not installed: checked the TCP port only", file=sys.stderr)
    sys.exit(0)

async def main(bootstrap, warmup):
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            raise SystemExit("no brokers in metadata")
        if warmup:
            groups = await admin.describe_consumer_groups(["promptopt-infra-warmup"])
            for g in groups:
                for grp in getattr(g, "groups", []):
                    if grp[0] != 0:   # error code
                        raise SystemExit(f"group coordinator not ready (error {grp[0]})")
    finally:
        await admin.close()

sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2] == "warmup"), 15)))
EOF
}

do_start() {
  local pid
  pid="$(our_pid)"
  if [[ -n "$pid" ]]; then
    say "kafka: already running (pid $pid) on $K_BOOTSTRAP"
    return 0
  fi
  rm -f "$PIDF"
  if port_open "$K_HOST" "$K_PORT" || port_open "$K_HOST" "$K_CTRL_PORT"; then
    if healthy 2>/dev/null; then
      say "kafka: $K_BOOTSTRAP is already served by another process (pid $(port_owner "$K_PORT")); using it"
      return 0
    fi
    die "kafka: port $K_PORT or $K_CTRL_PORT is taken by another process (pid $(port_owner "$K_PORT")$(port_owner "$K_CTRL_PORT"))"
  fi
  do_install
  ensure_tools
  mkdir -p "$KDIR"
  write_config
  format_storage
  say "kafka: starting on $K_BOOTSTRAP (log $LOG)"
  printf '\n===== infra/kafka.sh start at %s =====\n' "$(date -Is)" >>"$LOG"
  # setsid: own session, so a Ctrl-C in the calling shell does not reach it.
  # shellcheck disable=SC2086
  setsid java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" kafka.Kafka "$CONF" \
    >>"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDF"
  if ! wait_until "$START_TIMEOUT" "$pid" healthy warmup; then
    if pid_alive "$pid"; then
      say "kafka: not healthy after ${START_TIMEOUT}s"
    else
      say "kafka: process exited during startup"
    fi
    tail_log "$LOG"
    if pid_alive "$pid"; then stop_pid "$pid" kafka 10; fi
    rm -f "$PIDF"
    die "kafka: failed to start (log $LOG)"
  fi
  say "kafka: up (pid $pid): bootstrap $K_BOOTSTRAP"
}

do_stop() {
  local pid
  pid="$(our_pid)"
  if [[ -z "$pid" ]]; then
    say "kafka: not running"
    rm -f "$PIDF"
    return 0
  fi
  stop_pid "$pid" kafka "${PROMPTOPT_KAFKA_STOP_TIMEOUT:-30}"
  rm -f "$PIDF"
}

do_status() {
  local pid
  pid="$(our_pid)"
  if [[ -n "$pid" ]] && healthy 2>/dev/null; then
    echo "kafka: running on $K_BOOTSTRAP (pid $pid)"
    return 0
  fi
  if [[ -n "$pid" ]]; then echo "kafka: process $pid alive but not answering on $K_BOOTSTRAP"; return 1; fi
  echo "kafka: not running"
  return 1
}

if [[ "${1:-}" == health ]]; then healthy; exit; fi
if [[ "${1:-}" == log ]]; then echo "$LOG"; exit 0; fi
usage_main kafka "$@"
