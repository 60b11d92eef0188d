#!/usr/bin/env bash
# Side-by-side benchmark of Tandem against Apache ActiveMQ Classic (Debian's `activemq` 5.17), in
# one run on one machine: the same tandem-bench workloads against both brokers, alternating, then
# kill -9 failovers of each pair. Prints a table (and a markdown copy), writes JSON and an SVG chart.
#
#   tools/bench/compare-activemq.sh              # full: 5 rounds, writes tools/bench/results/
#   QUICK=1 tools/bench/compare-activemq.sh      # small counts, 2 rounds, 1 failover each (minutes)
#
# Installs `activemq` (which pulls Java) and `gnuplot-nox` from Debian when missing: that needs
# root. Runs ActiveMQ from the Debian install as its own JVM with a configuration it writes
# (STOMP on 127.0.0.1, KahaDB in a scratch directory with its default journal sync), never the
# system service. Every broker is stopped by PID; the scratch directory is removed (KEEP=1 keeps it).
#
# Each round: fresh single brokers, store growth per message, warm-up (discarded), then
# (tools/bench/README.md has the details):
#   (a) 1 producer, persistent 1 KiB, receipt each    A_SECONDS (10)
#   (b) PRODUCERS (8) such producers                  B_SECONDS (10)
#   (c) STREAM_COUNT (50000) pipelined, receipt each, timed to the last
#   (c') the same with a receipt for the last only (plain STOMP)
#   (d) drain of (c), client-individual ack each
#   (e) topic fan-out to SUBSCRIBERS (8), FANOUT_COUNT (10000) messages, non-persistent
#   (f) CONNECTIONS (10000) idle connections held HOLD (5) s: peak RSS growth per connection
#   failover: FAILOVER_RUNS (5) x kill -9 of the active -> first receipt from the standby, for the
#   Tandem pair (defaults), ActiveMQ's shared-KahaDB pair with lockAcquireSleepInterval AMQ_LOCK_MS
#   (500) and at its default (10 s).
#
# Environment: QUICK=1, ROUNDS (5), the sizes above, SIZE (1024), WARM_SECONDS / WARM_COUNT /
# WARM_FANOUT (the per-round warm-up), PRE_FAULT_S (2) and PHASE_S (10: a random 0..PHASE_S more
# before each kill), SETTLE_S (6), BROKERS (activemq,tandem; e.g.
# BROKERS=tandem needs no ActiveMQ), FAILOVER=0 (skip the failover rows), AMQ_TRANSPORT (stomp+nio
# | stomp), AMQ_JAVA_OPTS (default: ACTIVEMQ_OPTS from Debian's /usr/share/activemq/activemq-options),
# AMQ_KAHADB (extra <kahaDB> attributes, none by default), AMQ_LOCK_MS (500), CHART=0 (no gnuplot),
# OUT_DIR (default tools/bench/results, or $TMPDIR/tandem-compare-activemq-quick with QUICK=1),
# TMPDIR (the stores go there: that is the disk measured), TANDEM_BIN_DIR / TANDEM_BROKER /
# TANDEM_BENCH (binaries, default build/), KEEP=1.
set -euo pipefail

script_name=compare-activemq
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"

brokers="${BROKERS:-activemq,tandem}"
needed=()
[[ "${CHART:-1}" != 0 ]] && needed+=(gnuplot-nox)
[[ ",$brokers," == *,activemq,* ]] && needed+=(activemq)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $EUID -eq 0 ]] || die "needs ${missing[*]} from Debian; installing them needs root: apt-get install -y ${missing[*]} (or run this as root)"
  echo "$script_name: installing ${missing[*]} (apt-get) ..." >&2
  # The package's init script is not used: its service stays off (nothing in instances-enabled).
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
    || die "apt-get install ${missing[*]} failed"
fi

if [[ -z "${AMQ_JAVA_OPTS:-}" && -r /usr/share/activemq/activemq-options ]]; then
  # What Debian's init script gives the JVM (-Xms512M -Xmx512M ... in Debian 12).
  AMQ_JAVA_OPTS="$(INSTANCE=compare bash -c '. /usr/share/activemq/activemq-options; echo "$ACTIVEMQ_OPTS"')"
fi
export AMQ_JAVA_OPTS

# Every connection of (f) is a descriptor in the broker and in tandem-bench.
connections="${CONNECTIONS:-$([[ "${QUICK:-0}" == 1 ]] && echo 1000 || echo 10000)}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt $((connections + 1024)) ]]; then
  die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); CONNECTIONS=$connections needs at least $((connections + 1024)): raise the hard limit or lower CONNECTIONS"
fi

if [[ "${QUICK:-0}" == 1 ]]; then
  out="${OUT_DIR:-${TMPDIR:-/tmp}/tandem-compare-activemq-quick}"
else
  out="${OUT_DIR:-$repo/tools/bench/results}"
fi

/usr/bin/python3 "$repo/tools/bench/compare/main.py" --work "$work" --bench "$bench_bin" \
  --broker "$broker_bin" --out "$out"
