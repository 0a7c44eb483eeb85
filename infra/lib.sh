# shellcheck shell=bash
# Helpers shared by infra/*.sh (sourced, not run).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$INFRA_DIR/.." && pwd)"
# PROMPTOPT_INFRA_STATE: another folder for the servers' state (a benchmark's own stack on
# its own ports); jars already gathered under .infra are shared, not fetched again.
STATE="${PROMPTOPT_INFRA_STATE:-$REPO/.infra}"
if [[ "$STATE" != "$REPO/.infra" ]]; then
  for shared in kafka/libs mongo/libs mongo/classes; do
    if [[ -d "$REPO/.infra/$shared" && ! -e "$STATE/$shared" ]]; then
      mkdir -p "$(dirname "$STATE/$shared")"
      ln -s "$REPO/.infra/$shared" "$STATE/$shared"
    fi
  done
fi
PYTHON="${PYTHON:-python3}"

say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# tail_log FILE [N]: print the last N (30) lines of a server log to stderr.
tail_log() {
  local f="$1" n="${2:-30}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '----- end of %s -----\n' "$f" >&2
  else
    printf '(log %s is missing or empty)\n' "$f" >&2
  fi
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# read_pid FILE: the pid in FILE if that process is alive, else nothing.
read_pid() {
  local f="$1" pid
  [[ -f "$f" ]] || return 0
  pid="$(head -n1 "$f" 2>/dev/null | tr -dc '0-9')"
  if pid_alive "$pid"; then echo "$pid"; fi
}

# pid_cmd_has PID WORD: does the process's command line contain WORD?
pid_cmd_has() {
  local pid="$1" word="$2"
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word"
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# port_owner PORT: pid(s) listening on loopback PORT (best effort, may be empty).
port_owner() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' '
  fi
}

# stop_pid PID NAME [TIMEOUT]: SIGTERM, wait up to TIMEOUT s (20), then SIGKILL.
stop_pid() {
  local pid="$1" name="$2" t="${3:-20}" i
  pid_alive "$pid" || return 0
  say "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < t * 10; i++)); do
    pid_alive "$pid" || { say "$name: stopped"; return 0; }
    sleep 0.1
  done
  say "$name: still alive after ${t}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || { say "$name: killed"; return 0; }
    sleep 0.1
  done
  die "$name: pid $pid survived SIGKILL"
}

# wait_until TIMEOUT_S PID CMD...: poll CMD every 0.5 s until it succeeds.
# Fails early if PID (when non-empty) dies. Returns 1 on timeout/death.
wait_until() {
  local t="$1" pid="$2"; shift 2
  local deadline=$((SECONDS + t))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then return 1; fi
    sleep 0.5
  done
  "$@" >/dev/null 2>&1
}

# need_root_or SUDO-less hint: apt installs need root.
apt_install() {
  [[ "$(id -u)" == 0 ]] || die "need root to apt-get install $* (or install it yourself)"
  local stamp="$STATE/.apt-updated"
  mkdir -p "$STATE"
  if [[ ! -f "$stamp" ]]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    touch "$stamp"
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# usage_main NAME "$@": dispatch start|stop|status|restart to functions.
usage_main() {
  local name="$1"; shift
  case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    restart) do_stop; do_start ;;
    install) do_install ;;
    *) echo "usage: infra/$name.sh start|stop|status|restart|install" >&2; exit 2 ;;
  esac
}
