#!/usr/bin/env bash
# The ways a reader could wait for datagrams at a low rate, compared by the
# CPU per line of `ingest serve` (route metrics, 249-byte lines from 16
# source ports, as bench/capacity/run.sh sends them), as docs/scaling.md
# reports them. Each variant is a build of the current tree with
# variants.patch applied, chosen at run time by INGEST_LAB:
#
#   syscall           --batch-delay 0, recvmmsg through Syscall6 (the read
#                     path before BatchDelay)
#   (none)            --batch-delay 0
#   rcvlowat          --batch-delay 0, SO_RCVLOWAT 64 KiB on the socket
#   busypoll          --batch-delay 0, SO_BUSY_POLL 50 us on the socket
#   waitforone        --batch-delay 0, a blocking recvmmsg with
#                     MSG_WAITFORONE on the reader's thread, the socket out
#                     of the runtime's poller
#   blockmmsg         a blocking recvmmsg with a 50ms timeout and no
#                     MSG_WAITFORONE (it returns when the batch is full or a
#                     datagram arrives after the timeout), same thread
#   timer-netpoll     --batch-delay 50ms, a runtime timer, the socket left
#                     in the runtime's poller
#   ticker-netpoll    the same with a time.Ticker
#   nanosleep-locked  --batch-delay 50ms, the socket detached, the wait a
#                     nanosleep(2) on the reader's locked OS thread
#   gotimer-detached  --batch-delay 50ms, the socket detached, the wait a
#                     runtime timer
#   (none)            --batch-delay 10ms, 20ms, 50ms, 100ms, 200ms: the
#                     design kept (socket detached, the wait a timerfd in
#                     the reader's epoll instance)
#
# Run from the repository root: bench/lab/batchdelay/run.sh
# Environment: ROUNDS (default 3), SECONDS_EACH (default 20), RATE
# (default 1500), LINES (short or long, default short), UDP_PORT (55340),
# HTTP_PORT (59714). The blocking variants cannot be stopped (they wait in
# recvmmsg): the script kills its own serve process after a second.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-20}
RATE=${RATE:-1500}
LINES=${LINES:-short}
UDP_PORT=${UDP_PORT:-55340}
HTTP_PORT=${HTTP_PORT:-59714}
WORK=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

git archive HEAD | tar -x -C "$WORK"
(cd "$WORK" && git apply "$OLDPWD/bench/lab/batchdelay/variants.patch" && go build -o "$WORK/ingest" ./cmd/ingest)
BIN=$WORK/ingest
FORMAT=$("$BIN" send --print-format)
if [ "$LINES" = short ]; then
	FLAGS=(--routes-mix --sources 16)
else
	FLAGS=(--routes-mix --sources 16 --unique 1 --path-length 1843)
fi

metric() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v s="$1" '$1 == s { printf "%.0f\n", $2; f = 1 } END { if (!f) print 0 }'
}
# cpu_ns: the CPU time of serve's threads, in nanoseconds (schedstat).
cpu_ns() { cat "/proc/$PID/task/"*/schedstat | awk '{ s += $1 } END { printf "%d\n", s }'; }

# run NAME LAB_ENV SERVE_FLAGS...
run() {
	local name=$1 lab=$2
	shift 2
	env INGEST_LAB="$lab" INGEST_LAB_DELAY=50ms "$BIN" serve --listen "127.0.0.1:$UDP_PORT" --http "127.0.0.1:$HTTP_PORT" \
		--heap-interval 1h --profile-dir "$WORK/profiles" --log-format "$FORMAT" "$@" >/dev/null 2>"$WORK/serve.err" &
	PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 1
	local l0 c0 l1 c1
	l0=$(metric ingest_lines_total)
	c0=$(cpu_ns)
	"$BIN" send --addr "127.0.0.1:$UDP_PORT" --rate "$RATE" --duration "${SECONDS_EACH}s" "${FLAGS[@]}" >/dev/null 2>&1 || true
	sleep 1
	c1=$(cpu_ns)
	l1=$(metric ingest_lines_total)
	echo "$name lines=$((l1 - l0)) cpu_ns=$((c1 - c0)) drops=$(metric 'ingest_dropped_total{reason="kernel"}') load=$(cut -d' ' -f1 /proc/loadavg)" |
		awk '{ split($2, l, "="); split($3, c, "="); printf "%-22s %s %s  %.2f us/line  %s %s\n", $1, $2, $3, c[2] / l[2] / 1000, $4, $5 }'
	kill "$PID" 2>/dev/null || true
	sleep 1
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# bench/lab/batchdelay/run.sh at $(git rev-parse --short HEAD): ROUNDS=$ROUNDS SECONDS_EACH=$SECONDS_EACH RATE=$RATE LINES=$LINES"
for r in $(seq "$ROUNDS"); do
	echo "# round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
	run syscall syscall --batch-delay 0
	run none "" --batch-delay 0
	run rcvlowat rcvlowat --batch-delay 0
	run busypoll busypoll --batch-delay 0
	run waitforone waitforone --batch-delay 0
	run blockmmsg blockmmsg --batch-delay 0
	run timer-netpoll timer-netpoll --batch-delay 50ms
	run ticker-netpoll ticker-netpoll --batch-delay 50ms
	run nanosleep-locked nanosleep-locked --batch-delay 50ms
	run gotimer-detached gotimer-detached --batch-delay 50ms
	for d in 10ms 20ms 50ms 100ms 200ms; do
		run "timerfd-$d" "" --batch-delay "$d"
	done
done
echo "# end, load $(cut -d' ' -f1-3 /proc/loadavg)"
