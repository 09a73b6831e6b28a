#!/usr/bin/env bash
# CPU per line of `ingest serve` beside a peer that does the same job:
# prometheus-nginxlog-exporter (github.com/martin-helmich/prometheus-nginxlog-exporter,
# a Go daemon that receives nginx access lines over syslog, parses them
# with its log_format and keeps Prometheus counters of them). Both receive
# the same lines over UDP on loopback, one receiver at a time, never both
# at once. docs/benchmarks.md ("ingest serve against
# prometheus-nginxlog-exporter") reports its output.
#
# The lines: `ingest send` with nginx's combined format behind the RFC 3164
# header nginx's syslog: target writes (tag "nginx"), one line a datagram,
# paths of 2 KiB, half of them never seen before and the rest from a pool
# of 1,000 (the soak's load). serve reads them with its defaults (the
# combined format, route metrics, path table, --batch-delay 100ms, one
# reader); the exporter with a syslog source (udp, rfc3164, tags
# ["nginx"]) and the combined log_format, its other settings left at their
# defaults (its counters have the labels method and status only: it keeps
# nothing per path or route, where serve keeps route metrics and a path
# table). v1.11.0 panics at SIGTERM with a UDP syslog source (it calls a
# nil close function), so its exit status is not checked; every figure is
# read before it is stopped.
#
# What it measures, for each trial: a fresh receiver is started, waits
# WARMUP s idle, then `ingest send` sends RATE lines/s for SECONDS s; the
# trial ends when the receiver's count stops moving (or after MAX_WAIT s).
# The CPU ticks of the idle WARMUP s are given too.
# From the first line sent to that end: the CPU time of the receiver's
# whole process (utime + stime from /proc/PID/stat, in ticks of
# 1/CLK_TCK s), the lines it counted (serve: ingest_lines_total on
# /metrics; the exporter: the sum of nginx_http_response_count_total on
# its /metrics), its parse errors (ingest_parse_errors_total,
# nginx_parse_errors_total), the kernel's drops on its UDP socket
# (/proc/net/udp) and the 1-minute load average before and after. CPU per
# line = ticks x (1/CLK_TCK s) / lines counted. Trials alternate: for each
# round and each rate, serve then the exporter. The summary gives the
# median of the rounds for each receiver and rate, and the exporter's CPU
# per line over serve's.
#
# Run from the repository root:
#
#   bench/peer/run.sh                       # about 8 min with the defaults
#   ROUNDS=2 SECONDS_PER_TRIAL=10 bench/peer/run.sh   # about 3 min
#
# Duration: the builds (a minute or two the first time: the exporter's
# dependencies), then ROUNDS x rates x 2 trials of about SECONDS_PER_TRIAL
# + WARMUP + 3 s each (at most SECONDS_PER_TRIAL + WARMUP + MAX_WAIT + 40 s).
#
# Needs: go (builds ./cmd/ingest, and installs the exporter from the Go
# module proxy into a temporary GOBIN: go install
# github.com/martin-helmich/prometheus-nginxlog-exporter@$EXPORTER_VERSION,
# or, where the proxy refuses the module's version list, go build in the
# module cache's copy of that version),
# curl, awk, sort. Nothing needs root. Set EXPORTER_BIN to use an exporter
# binary already built instead.
#
# Environment (defaults): RATES ("1500 20000"), SECONDS_PER_TRIAL (30),
# ROUNDS (3), WARMUP (5), MAX_WAIT (20), EXPORTER_VERSION (v1.11.0, its
# latest release), EXPORTER_BIN (none); loopback ports UDP_PORT (55160)
# and HTTP_PORT (59516). Every process is started here, under a temporary
# directory that is removed at the end, and stopped by its pid (SIGTERM,
# then SIGKILL after 10 s), also on an error or ^C. Every load is bounded:
# `ingest send` by --duration, each wait by a count. RESULT lines go to
# stdout.
set -euo pipefail

RATES=${RATES:-1500 20000}
SECONDS_PER_TRIAL=${SECONDS_PER_TRIAL:-30}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-5}
MAX_WAIT=${MAX_WAIT:-20}
EXPORTER_VERSION=${EXPORTER_VERSION:-v1.11.0}
EXPORTER_BIN=${EXPORTER_BIN:-}
EXPORTER_DESC=$EXPORTER_BIN
UDP_PORT=${UDP_PORT:-55160}
HTTP_PORT=${HTTP_PORT:-59516}
EXPORTER_MODULE=github.com/martin-helmich/prometheus-nginxlog-exporter

[ -f go.mod ] && [ -d cmd/ingest ] || { echo "run.sh: run from the repository root" >&2; exit 2; }
command -v curl >/dev/null || { echo "run.sh: no curl" >&2; exit 2; }

WORK=$(mktemp -d)
BIN=$WORK/ingest
PIDS=()
CLK_TCK=$(getconf CLK_TCK)

# The lines: nginx's combined format behind the RFC 3164 header nginx's
# syslog: target writes, paths of 2 KiB, half of them never seen before.
SEND_FLAGS=(--syslog 3164 --path-length 2048 --paths 1000 --unique 0.5)
# nginx's combined log_format, for the exporter.
COMBINED='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

load1() { cut -d' ' -f1 /proc/loadavg; }

# stop PID: SIGTERM, wait up to 10 s, then SIGKILL; forget it.
stop() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# cpu_ticks PID: utime + stime of the whole process, in clock ticks (the
# fields after the command name, which is in parentheses: utime and stime
# are fields 14 and 15 of the line, 12 and 13 after ")").
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# udp_bound PORT: whether a loopback UDP socket is bound to PORT.
udp_bound() { grep -q "$(printf ':%04X ' "$1")" /proc/net/udp; }

# udp_drops PORT: the kernel's drops on the UDP sockets of PORT.
udp_drops() {
	awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp
}

# metric_sum NAME: the sum of the series of family NAME on the receiver's
# /metrics (every label set), 0 when there is none.
metric_sum() {
	curl -sf --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk -v n="$1" 'index($0, n "{") == 1 || index($0, n " ") == 1 { s += $NF } END { printf "%.0f\n", s }'
}

# counted / parse_errors RECEIVER: the receiver's lines and parse errors.
counted() {
	case $1 in
	ingest) metric_sum ingest_lines_total ;;
	exporter) metric_sum nginx_http_response_count_total ;;
	esac
}
parse_errors() {
	case $1 in
	ingest) metric_sum ingest_parse_errors_total ;;
	exporter) metric_sum nginx_parse_errors_total ;;
	esac
}

# start RECEIVER: starts it on UDP_PORT and HTTP_PORT, waits until both are
# up; sets PID.
start() {
	if udp_bound "$UDP_PORT"; then
		echo "run.sh: UDP port $UDP_PORT is taken" >&2
		exit 1
	fi
	case $1 in
	ingest)
		"$BIN" serve --listen "127.0.0.1:$UDP_PORT" --http "127.0.0.1:$HTTP_PORT" \
			--profile-dir "$WORK/profiles" >"$WORK/ingest.out" 2>"$WORK/ingest.err" &
		;;
	exporter)
		"$EXPORTER_BIN" -config-file "$WORK/exporter.hcl" >"$WORK/exporter.out" 2>"$WORK/exporter.err" &
		;;
	esac
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		if curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" >/dev/null 2>&1 && udp_bound "$UDP_PORT"; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$WORK/$1.out" "$WORK/$1.err" >&2
	echo "run.sh: $1 did not start" >&2
	exit 1
}

# settle RECEIVER: waits until its count stands still for a second, at
# most MAX_WAIT s.
settle() {
	local prev=-1 cur
	for _ in $(seq "$MAX_WAIT"); do
		cur=$(counted "$1")
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 1
	done
}

# trial ROUND RECEIVER RATE: one trial; prints a RESULT line and records
# the CPU per line.
declare -A PER
trial() {
	local round=$1 rx=$2 rate=$3
	start "$rx"
	local pid=$PID idle0 idle
	idle0=$(cpu_ticks "$pid")
	sleep "$WARMUP"
	idle=$(($(cpu_ticks "$pid") - idle0))
	local la0 l0 e0 d0 t0 summary sent achieved t1 l1 e1 d1 la1
	la0=$(load1)
	l0=$(counted "$rx")
	e0=$(parse_errors "$rx")
	d0=$(udp_drops "$UDP_PORT")
	t0=$(cpu_ticks "$pid")
	summary=$("$BIN" send --addr "127.0.0.1:$UDP_PORT" --rate "$rate" --duration "${SECONDS_PER_TRIAL}s" \
		"${SEND_FLAGS[@]}" 2>/dev/null) || true
	summary=${summary%%$'\n'*}
	sent=$(echo "$summary" | sed -n 's/.* lines=\([0-9]*\) .*/\1/p')
	achieved=$(echo "$summary" | sed -n 's/.* rate=\([0-9]*\) lines\/s.*/\1/p')
	settle "$rx"
	t1=$(cpu_ticks "$pid")
	l1=$(counted "$rx")
	e1=$(parse_errors "$rx")
	d1=$(udp_drops "$UDP_PORT")
	la1=$(load1)
	stop "$pid"
	local lines=$((l1 - l0)) ticks=$((t1 - t0)) per
	if [ -z "$sent" ] || [ "$lines" -le 0 ]; then
		echo "run.sh: $rx counted $lines lines of ${sent:-?} sent; its log:" >&2
		tail -20 "$WORK/$rx.out" "$WORK/$rx.err" >&2
		exit 1
	fi
	per=$(awk -v t="$ticks" -v n="$lines" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
	PER[$rx,$rate]="${PER[$rx,$rate]:-} $per"
	echo "RESULT trial round=$round receiver=$rx rate=$rate sent=$sent achieved=$achieved counted=$lines" \
		"counted/sent=$(awk -v c="$lines" -v s="$sent" 'BEGIN { printf "%.4f", c / s }')" \
		"parse_errors=$((e1 - e0)) kernel_drops=$((d1 - d0)) ticks=$ticks cpu_per_line_us=$per" \
		"idle_ticks_in_${WARMUP}s=$idle load1_before=$la0 load1_after=$la1"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The receivers.
go build -o "$BIN" ./cmd/ingest
if [ -z "$EXPORTER_BIN" ]; then
	# `go install MODULE@VERSION` looks up the module's version list for
	# deprecations and stops when the proxy refuses the list (as the one
	# here does, though it serves the version): build the version from the
	# module cache instead, with its own go.mod and go.sum.
	mkdir -p "$WORK/gobin"
	EXPORTER_BIN=$WORK/gobin/prometheus-nginxlog-exporter
	EXPORTER_DESC="$EXPORTER_MODULE $EXPORTER_VERSION, go install"
	if ! (cd "$WORK" && GOBIN="$WORK/gobin" go install "$EXPORTER_MODULE@$EXPORTER_VERSION") 2>"$WORK/install.err"; then
		dir=$(go mod download -json "$EXPORTER_MODULE@$EXPORTER_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[ -n "$dir" ] || { cat "$WORK/install.err" >&2; exit 2; }
		(cd "$dir" && go build -o "$EXPORTER_BIN" .)
		EXPORTER_DESC="$EXPORTER_MODULE $EXPORTER_VERSION, go build in $dir"
	fi
fi
[ -x "$EXPORTER_BIN" ] || { echo "run.sh: no exporter at $EXPORTER_BIN" >&2; exit 2; }
cat >"$WORK/exporter.hcl" <<EOF
listen {
  port = $HTTP_PORT
  address = "127.0.0.1"
}

namespace "nginx" {
  source {
    syslog {
      listen_address = "udp://127.0.0.1:$UDP_PORT"
      format = "rfc3164"
      tags = ["nginx"]
    }
  }

  format = "$(printf '%s' "$COMBINED" | sed 's/"/\\"/g')"
}
EOF

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# bench/peer/run.sh (RATES=\"$RATES\" SECONDS_PER_TRIAL=$SECONDS_PER_TRIAL ROUNDS=$ROUNDS WARMUP=$WARMUP) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# exporter: $EXPORTER_DESC; $(go version -m "$EXPORTER_BIN" | awk 'NR == 1 { print "built with " $2 }')"
echo "# send flags: ${SEND_FLAGS[*]}; serve flags: --listen --http --profile-dir (the rest defaults)"
echo "# exporter config:"
sed 's/^/#   /' "$WORK/exporter.hcl"

for round in $(seq "$ROUNDS"); do
	for rate in $RATES; do
		trial "$round" ingest "$rate"
		trial "$round" exporter "$rate"
	done
done

echo ""
echo "| lines/s | serve µs CPU per line | exporter µs CPU per line | exporter / serve |"
echo "| ---: | ---: | ---: | ---: |"
for rate in $RATES; do
	# shellcheck disable=SC2086
	mi=$(median ${PER[ingest,$rate]})
	# shellcheck disable=SC2086
	me=$(median ${PER[exporter,$rate]})
	ratio=$(awk -v a="$me" -v b="$mi" 'BEGIN { printf "%.1f", a / b }')
	echo "| $rate | $mi | $me | $ratio |"
	echo "RESULT median of $ROUNDS rounds at $rate lines/s: serve $mi µs CPU per line (trials:${PER[ingest,$rate]}), exporter $me µs (trials:${PER[exporter,$rate]}), exporter/serve $ratio"
done
echo "# end $(date -u +%Y-%m-%dT%H:%MZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
