#!/usr/bin/env bash
# Builds Tandem and runs a local active/standby pair in the foreground; Ctrl-C stops it cleanly.
#
#   sudo bash scripts/run-local.sh
#
# Configs come from deploy/local/<node>.yaml; state (journal, logs) lives in .tandem-local/
# in the repository (git-ignored). Every node is started from the repository root, so a
# relative storage.path in its config is relative to the repository.
#
# It starts node-1 and node-2, which share .tandem-local/shared: whichever wins the lease is
# active and opens its STOMP port, the other stands by. The script supervises both like a
# service manager would: kill a node (kill -9 its PID, as in a switchover drill) and the other
# takes over, while the killed one is started again and comes back as the standby.
#
# Each node also serves STOMP over TLS (listeners.stomp_ssl). The first run makes a local CA
# and a server certificate for 127.0.0.1 and localhost in .tandem-local/tls/ with the openssl
# tool; clients verify the broker with .tandem-local/tls/ca.pem. Delete that directory to get
# new ones.
#
# Users: the pair has one user, `admin` (role admin), for the admin API and the console. Its
# password is made at the first run and kept in .tandem-local/admin-password (mode 0600; delete
# it for a new one); the script prints it. STOMP security stays off (security.enabled: false), so
# STOMP clients connect without credentials as in the README's examples. Each node then runs
# with .tandem-local/<node>.yaml: deploy/local/<node>.yaml plus that security section. A config
# with a security section of its own (e.g. to turn STOMP security on) is used as it is.
set -euo pipefail
repo="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
repo="$(cd "$repo" && pwd)"
cd "$repo"

BROKER="$repo/build/broker/tandem-broker"
STATE_DIR="$repo/.tandem-local"
TLS_DIR="$STATE_DIR/tls"   # the deploy/local configs name tls.cert_file and tls.key_file here
ADMIN_PASSWORD_FILE="$STATE_DIR/admin-password"
ADMIN_HASH_FILE="$STATE_DIR/admin-password.hash"
START_TIMEOUT_S=30   # journal recovery counts here, so be generous
STOP_TIMEOUT_S=15    # after SIGTERM, before SIGKILL

declare -A node_pid=()      # node name -> broker PID
declare -A node_address=()  # node name -> host:port of its STOMP listener
declare -A node_http=()     # node name -> host:port of its HTTP listener
declare -A node_ssl=()      # node name -> host:port of its STOMP-over-TLS listener ("" if none)

die() { echo "run-local: error: $*" >&2; exit 1; }

# The listeners.stomp value of a config file. Reads only our own deploy/local files, which
# keep `listeners:` at column 0 and `stomp: HOST:PORT` indented under it; the broker itself
# validates the file properly when it starts.
stomp_address_of() {
  awk '/^listeners:/ { inside = 1; next }
       /^[^[:space:]#]/ { inside = 0 }
       inside && $1 == "stomp:" { gsub(/["\047]/, "", $2); print $2; exit }' "$1"
}

# listeners.http of a config file ("" when absent).
http_address_of() {
  awk '/^listeners:/ { inside = 1; next }
       /^[^[:space:]#]/ { inside = 0 }
       inside && $1 == "http:" { gsub(/["\047]/, "", $2); print $2; exit }' "$1"
}

# listeners.stomp_ssl of a config file ("" when absent).
stomp_ssl_address_of() {
  awk '/^listeners:/ { inside = 1; next }
       /^[^[:space:]#]/ { inside = 0 }
       inside && $1 == "stomp_ssl:" { gsub(/["\047]/, "", $2); print $2; exit }' "$1"
}

port_of() { echo "${1##*:}"; }

# A local CA and a server certificate signed by it, for the TLS listeners of both nodes; made
# once and kept, so clients that trust ca.pem keep working across runs.
make_tls_files() {
  [[ -s $TLS_DIR/ca.pem && -s $TLS_DIR/server.pem && -s $TLS_DIR/server.key ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed to make the local TLS certificates; run: sudo bash scripts/install-deps.sh"
  echo "run-local: making a local CA and a server certificate in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  local ec=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
  openssl genpkey "${ec[@]}" -out "$TLS_DIR/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" -days 825 \
    -subj "/CN=Tandem local CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl genpkey "${ec[@]}" -out "$TLS_DIR/server.key" 2>/dev/null
  openssl req -new -key "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" -subj "/CN=tandem-local"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > "$TLS_DIR/server.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -out "$TLS_DIR/server.pem" -days 825 -extfile "$TLS_DIR/server.ext" 2>/dev/null
  rm -f "$TLS_DIR/server.csr" "$TLS_DIR/server.ext"
  chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/server.key"
}

# The admin password and its hash (auth/password.h's format, what `tandem-ctl hash-password`
# prints), made once. Python's hashlib reads the password from the file, so it never shows in
# a process list.
make_admin_user() {
  [[ -s $ADMIN_PASSWORD_FILE && -s $ADMIN_HASH_FILE && ! $ADMIN_PASSWORD_FILE -nt $ADMIN_HASH_FILE ]] && return 0
  [[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is needed to hash the admin password; run: sudo bash scripts/install-deps.sh"
  (umask 077 && /usr/bin/python3 - "$ADMIN_PASSWORD_FILE" "$ADMIN_HASH_FILE" <<'PY'
import base64, hashlib, os, secrets, sys
password_file, hash_file = sys.argv[1:]
if not os.path.exists(password_file) or not open(password_file).read().strip():
    with open(password_file, "w") as f:
        f.write(secrets.token_urlsafe(12) + "\n")
password = open(password_file).read().strip().encode()
salt, iterations = os.urandom(16), 100000
digest = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
with open(hash_file, "w") as f:
    f.write(f"pbkdf2-sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n")
PY
  )
}

# The config a node runs with: deploy/local/NAME.yaml plus the admin user, or the file itself
# when it has a security section of its own.
node_config() {
  local source="deploy/local/$1.yaml" generated="$STATE_DIR/$1.yaml"
  if grep -q '^security:' "$source"; then
    echo "$source"
    return
  fi
  (umask 077 && {
    cat "$source"
    printf '\n# Added by scripts/run-local.sh: the user admin (password in %s)\n' "$ADMIN_PASSWORD_FILE"
    printf 'security:\n  enabled: false\n  users:\n    - name: admin\n      role: admin\n'
    printf '      password_hash: "%s"\n' "$(cat "$ADMIN_HASH_FILE")"
  } > "$generated")
  echo "$generated"
}

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
  local ssl_address
  ssl_address=$(stomp_ssl_address_of "$config")
  for port in $(port_of "$address") $(port_of "$(http_address_of "$config")") ${ssl_address:+$(port_of "$ssl_address")}; do
    if port_in_use "$port"; then
      echo "run-local: error: port $port (a listener of $name in $config) is already in use:" >&2
      ss -Hltnp "sport = :$port" >&2 || true
      die "stop whatever listens there (an earlier run-local still running?) or change the port in $config"
    fi
  done
  local log="$STATE_DIR/$name.log"
  config=$(node_config "$name")
  echo "run-local: starting $name: $BROKER --config $config (log: $log)"
  # The prefixing pipeline ignores SIGINT, so Ctrl-C does not close the broker's output
  # under it while it shuts down; it ends when the broker closes its end of the pipe.
  "$BROKER" --config "$config" </dev/null > >(trap '' INT TERM; tee -a "$log" | sed -u "s/^/[$name] /") 2>&1 &
  node_pid[$name]=$!
  node_address[$name]=$address
  node_http[$name]=$(http_address_of "$config")
  node_ssl[$name]=$ssl_address
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
make_tls_files
make_admin_user

trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM HUP
trap 'stop_all' EXIT

start_node node-1
start_node node-2

if ! serving=$(wait_until_serving); then
  report_exited_nodes
  die "no node started serving (timeout ${START_TIMEOUT_S}s); see the logs in $STATE_DIR/"
fi
ep1="stomp://$(client_address_of "${node_address[node-1]}")"
# The TLS endpoints, and the CA a client needs to verify them (none printed when a config has
# no listeners.stomp_ssl).
tls_lines() {
  local name eps=()
  for name in node-1 node-2; do
    [[ -n ${node_ssl[$name]} ]] && eps+=("stomp+ssl://$(client_address_of "${node_ssl[$name]}")")
  done
  ((${#eps[@]})) || return 0
  echo "    TLS:     ${eps[*]}"
  echo "             failover:($(IFS=,; echo "${eps[*]}"))?caFile=$TLS_DIR/ca.pem"
}
ep2="stomp://$(client_address_of "${node_address[node-2]}")"
cat <<MSG

  Tandem is running as an active/standby pair; $serving is active.
    node-1:  $ep1   http://${node_http[node-1]}/api/v1/status   (pid ${node_pid[node-1]})
    node-2:  $ep2   http://${node_http[node-2]}/api/v1/status   (pid ${node_pid[node-2]})
    clients: failover:($ep1,$ep2)
$(tls_lines)
    login:   admin / $(cat "$ADMIN_PASSWORD_FILE") for the admin API and console (STOMP needs none)
    state and logs: $STATE_DIR/
  Try: kill -9 the active's pid (the other takes over, the killed one returns as standby),
       or a graceful switchover: curl -u admin -H 'X-Tandem-Request: 1' -d '' http://${node_http[$serving]}/api/v1/switchover
  Press Ctrl-C to stop both (or: kill -TERM $$).

MSG

# Supervise until Ctrl-C: a node that exits is reported and started again (as the standby).
while true; do
  wait -n "${node_pid[@]}" || true
  for name in "${!node_pid[@]}"; do
    pid=${node_pid[$name]}
    kill -0 "$pid" 2>/dev/null && continue
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    echo "run-local: $name (pid $pid) exited with code $rc; starting it again in 1 s" >&2
    sleep 1
    start_node "$name"
    echo "run-local: $name restarted (pid ${node_pid[$name]})" >&2
  done
done
