#!/usr/bin/env bash
# Builds Tandem and runs a local broker in the foreground; Ctrl-C stops it cleanly.
#
#   sudo bash scripts/run-local.sh
#
# Configs come from deploy/local/<node>.yaml; state (journal, logs) lives in .tandem-local/
# in the repository (git-ignored). Every node is started from the repository root, so a
# relative storage.path in its config is relative to the repository.
#
# Today this starts one node, node-1. Starting a second node of an active/standby pair is one
# more `start_node node-2` line: each node gets its own config, log file and output prefix,
# and the script stops every node it started.
set -euo pipefail
repo="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
repo="$(cd "$repo" && pwd)"
cd "$repo"

BROKER="$repo/build/broker/tandem-broker"
STATE_DIR="$repo/.tandem-local"
START_TIMEOUT_S=30   # journal recovery counts here, so be generous
STOP_TIMEOUT_S=15    # after SIGTERM, before SIGKILL

declare -A node_pid=()      # node name -> broker PID
declare -A node_address=()  # node name -> host:port of its STOMP listener

die() { echo "run-local: error: $*" >&2; exit 1; }

# The listeners.stomp value of a config file. Reads only our own deploy/local files, which
# keep `listeners:` at column 0 and `stomp: HOST:PORT` indented under it; the broker itself
# validates the file properly when it starts.
stomp_address_of() {
  awk '/^listeners:/ { inside = 1; next }
       /^[^[:space:]#]/ { inside = 0 }
       inside && $1 == "stomp:" { gsub(/["\047]/, "", $2); print $2; exit }' "$1"
}

port_of() { echo "${1##*:}"; }

# "127.0.0.1" for a wildcard host, so the printed endpoint is one a local client can dial.
client_address_of() {
  local address=$1 host=${1%:*}
  case $host in
    0.0.0.0) echo "127.0.0.1:$(port_of "$address")" ;;
    "[::]") echo "[::1]:$(port_of "$address")" ;;
    *) echo "$address" ;;
  esac
}

port_in_use() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }

# start_node NAME: starts build/broker/tandem-broker with deploy/local/NAME.yaml in the
# background. Its output goes to .tandem-local/NAME.log and to this terminal, each line
# prefixed with [NAME].
start_node() {
  local name=$1
  local config="deploy/local/$name.yaml"
  [[ -f $config ]] || die "no config for $name at $repo/$config"
  local address
  address=$(stomp_address_of "$config")
  [[ -n $address ]] || die "$config has no listeners.stomp"
  local port
  port=$(port_of "$address")
  if port_in_use "$port"; then
    echo "run-local: error: port $port (listeners.stomp of $name in $config) is already in use:" >&2
    ss -Hltnp "sport = :$port" >&2 || true
    die "stop whatever listens there (an earlier run-local still running?) or change the port in $config"
  fi
  local log="$STATE_DIR/$name.log"
  echo "run-local: starting $name: $BROKER --config $config (log: $log)"
  # The prefixing pipeline ignores SIGINT, so Ctrl-C does not close the broker's output
  # under it while it shuts down; it ends when the broker closes its end of the pipe.
  "$BROKER" --config "$config" </dev/null > >(trap '' INT TERM; tee -a "$log" | sed -u "s/^/[$name] /") 2>&1 &
  node_pid[$name]=$!
  node_address[$name]=$address
}

# stop_all: SIGTERM to every node still running, then SIGKILL after STOP_TIMEOUT_S.
stop_all() {
  trap - INT TERM HUP EXIT
  local name pid deadline running=0
  for name in "${!node_pid[@]}"; do
    pid=${node_pid[$name]}
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-local: stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      running=1
    fi
  done
  ((running)) || return 0
  deadline=$((SECONDS + STOP_TIMEOUT_S))
  for name in "${!node_pid[@]}"; do
    pid=${node_pid[$name]}
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-local: $name (pid $pid) did not stop within ${STOP_TIMEOUT_S}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  echo "run-local: stopped"
}

# Reports every node that is no longer running, with its exit code.
report_exited_nodes() {
  local name pid rc
  for name in "${!node_pid[@]}"; do
    pid=${node_pid[$name]}
    kill -0 "$pid" 2>/dev/null && continue
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    echo "run-local: $name exited with code $rc; its output is above and in $STATE_DIR/$name.log" >&2
  done
}

# Waits until some node accepts on its STOMP port (in a pair, the active one does).
# Prints that node's name. Fails at once when a node exits.
wait_until_serving() {
  local deadline=$((SECONDS + START_TIMEOUT_S)) name
  while ((SECONDS < deadline)); do
    for name in "${!node_pid[@]}"; do
      kill -0 "${node_pid[$name]}" 2>/dev/null || return 1
      if port_in_use "$(port_of "${node_address[$name]}")"; then
        echo "$name"
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

bash scripts/build.sh
[[ -x $BROKER ]] || die "the build produced no broker executable at $BROKER"
command -v ss >/dev/null || die "ss (iproute2) is needed to check ports; run: sudo bash scripts/install-deps.sh"
mkdir -p "$STATE_DIR"

trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM HUP
trap 'stop_all' EXIT

start_node node-1

if ! serving=$(wait_until_serving); then
  report_exited_nodes
  die "no node started serving (timeout ${START_TIMEOUT_S}s); see the logs in $STATE_DIR/"
fi

cat <<MSG

  Tandem is running ($serving is serving).
    STOMP endpoint: stomp://$(client_address_of "${node_address[$serving]}")
    state and logs: $STATE_DIR/
  Press Ctrl-C to stop (or: kill -TERM $$).

MSG

# Runs until Ctrl-C (the INT trap stops every node) or until a node exits on its own.
wait -n "${node_pid[@]}" || true
report_exited_nodes
exit 1
