#!/usr/bin/env bash
# Capacity of one `ingest serve` on this machine, as docs/scaling.md reports it:
#
#   1. the highest rate `ingest send` reaches with 0 kernel drops and every
#      line counted, for short (about 200-byte) and 2 KiB lines, with one
#      reader and two;
#   2. the CPU time per line at 1,500, 5,000 and 20,000 lines/s, short
#      and 2 KiB lines, with serve's default --batch-delay and with
#      --batch-delay 0, from /proc/PID/stat (utime + stime of the whole
#      serve process), and what an idle serve costs;
#   3. (step "at") trials at the README's loss-free rates, AT_SHORT and
#      AT_LONG lines/s, with serve's default --batch-delay and with
#      --batch-delay 0, AT_ROUNDS times each, one after the other;
#   4. the live heap per route-metric series;
#   5. how sender sockets spread over two processes sharing the port with
#      --reuse-port.
#
# Run from the repository root: bench/capacity/run.sh [steps...]
# where steps are any of: capacity cpu at memory spread (default: all but
# at).
# Environment: TRIAL (seconds per capacity trial, default 5), CPU_SECONDS
# (default 30), UDP_PORT (default 55140), HTTP_PORT (default 59514),
# SERVE_ARGS (extra serve flags, e.g. routes), AT_SHORT (default 186040),
# AT_LONG (default 74983), AT_ROUNDS (default 3). Output goes to stdout and
# to bench/capacity/out/. Sender and receiver share the machine's cores:
# the sender's CPU is part of the measurement's limits.
set -euo pipefail

TRIAL=${TRIAL:-5}
AT_SHORT=${AT_SHORT:-186040}
AT_LONG=${AT_LONG:-74983}
AT_ROUNDS=${AT_ROUNDS:-3}
CPU_SECONDS=${CPU_SECONDS:-30}
UDP_PORT=${UDP_PORT:-55140}
HTTP_PORT=${HTTP_PORT:-59514}
SERVE_ARGS=${SERVE_ARGS:-}
SERVE_FLAGS=() # set below: the log format
OUT=bench/capacity/out
mkdir -p "$OUT"
WORK=$(mktemp -d)
BIN=$WORK/ingest
SERVE_PIDS=()

# cleanup kills the serve processes still running (stop_serve forgets the
# ones it stopped, so no recycled PID is signalled).
cleanup() {
	for p in "${SERVE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

go build -o "$BIN" ./cmd/ingest
CLK_TCK=$(getconf CLK_TCK)

log() { echo "$*" | tee -a "$OUT/log.txt"; }

# start_serve NAME HTTP_PORT ARGS...: starts serve on the UDP port and
# waits for its HTTP side; sets PID.
start_serve() {
	local name=$1 http=$2
	shift 2
	# shellcheck disable=SC2086
	"$BIN" serve --listen "127.0.0.1:$UDP_PORT" --http "127.0.0.1:$http" \
		--heap-interval 1h --profile-dir "$WORK/profiles" "${SERVE_FLAGS[@]}" $SERVE_ARGS "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	PID=$!
	SERVE_PIDS+=("$PID")
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$WORK/$name.err" >&2
	echo "serve $name did not start" >&2
	exit 1
}

stop_serve() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${SERVE_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	SERVE_PIDS=("${keep[@]}")
}

# metric HTTP_PORT SERIES: the value of one series of /metrics.
metric() {
	curl -sf "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { printf "%.0f\n", $2; found = 1 } END { if (!found) print 0 }'
}

lines_of() { metric "$1" ingest_lines_total; }
drops_of() { metric "$1" 'ingest_dropped_total{reason="kernel"}'; }

# cpu_ticks PID: utime + stime, in clock ticks.
cpu_ticks() {
	# Fields after the command name, which is in parentheses: utime and
	# stime are fields 14 and 15 of the line, 12 and 13 after ")".
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# settle HTTP_PORT...: waits until the instances' line counts stop moving.
settle() {
	local prev=-1 cur
	for _ in $(seq 50); do
		cur=0
		for h in "$@"; do cur=$((cur + $(lines_of "$h"))); done
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.2
	done
}

# send RATE SECONDS LINES: runs ingest send with the flags of LINES
# (short or long); sets SENT (lines) and ACHIEVED (lines/s) from its
# summary.
send() {
	local rate=$1 secs=$2 flags
	if [ "$3" = short ]; then flags=("${SHORT[@]}"); else flags=("${LONG[@]}"); fi
	local summary
	summary=$("$BIN" send --addr "127.0.0.1:$UDP_PORT" --rate "$rate" --duration "${secs}s" \
		"${flags[@]}" 2>/dev/null) || true
	summary=${summary%%$'\n'*}
	SENT=$(echo "$summary" | sed -n 's/.* lines=\([0-9]*\) .*/\1/p')
	ACHIEVED=$(echo "$summary" | sed -n 's/.* rate=\([0-9]*\) lines\/s.*/\1/p')
}

# line_length LINES: the average bytes of a line of LINES, measured on a
# running serve (HTTP_PORT).
line_length() {
	local b0 l0 b1 l1
	b0=$(metric "$HTTP_PORT" ingest_bytes_total)
	l0=$(lines_of "$HTTP_PORT")
	send 1000 2 "$1"
	settle "$HTTP_PORT"
	b1=$(metric "$HTTP_PORT" ingest_bytes_total)
	l1=$(lines_of "$HTTP_PORT")
	echo $(((b1 - b0) / (l1 - l0)))
}

# trial RATE LINES: one capacity trial on the serve at HTTP_PORT;
# sets OK (1 when no kernel drop and every line counted), and logs it
# with the average line length.
trial() {
	local rate=$1 plen=$2 l0 d0 b0 l1 d1 b1
	l0=$(lines_of "$HTTP_PORT")
	d0=$(drops_of "$HTTP_PORT")
	b0=$(metric "$HTTP_PORT" ingest_bytes_total)
	send "$rate" "$TRIAL" "$plen"
	settle "$HTTP_PORT"
	l1=$(lines_of "$HTTP_PORT")
	d1=$(drops_of "$HTTP_PORT")
	b1=$(metric "$HTTP_PORT" ingest_bytes_total)
	OK=0
	if [ $((d1 - d0)) -eq 0 ] && [ $((l1 - l0)) -eq "$SENT" ]; then OK=1; fi
	log "  offered $rate/s: sent $SENT at $ACHIEVED lines/s, counted $((l1 - l0)) of $(((b1 - b0) / (l1 - l0 + 1))) B, kernel drops $((d1 - d0)), ok=$OK"
}

# capacity LABEL LINES SERVE_FLAGS...: the highest achieved rate of a
# trial with OK, by doubling the offered rate and then bisecting.
capacity() {
	local label=$1 plen=$2
	shift 2
	start_serve cap "$HTTP_PORT" "$@"
	local pid=$PID flags
	if [ "$plen" = short ]; then flags=("${SHORT[@]}"); else flags=("${LONG[@]}"); fi
	log "$label (serve $*; send ${flags[*]}; receive buffer $(metric "$HTTP_PORT" ingest_receive_buffer_bytes) B)"
	local lo=0 lo_achieved=0 hi=0 rate=10000 limited=0
	while [ "$rate" -le 1280000 ]; do
		trial "$rate" "$plen"
		if [ "$OK" = 1 ]; then
			lo=$rate
			[ "$ACHIEVED" -gt "$lo_achieved" ] && lo_achieved=$ACHIEVED
			# The sender could not offer more: the limit is the sender's.
			if [ "$ACHIEVED" -lt $((rate * 9 / 10)) ]; then
				limited=1
				break
			fi
			rate=$((rate * 2))
		else
			hi=$rate
			break
		fi
	done
	if [ "$hi" -gt 0 ]; then
		for _ in 1 2 3; do
			rate=$(((lo + hi) / 2))
			trial "$rate" "$plen"
			if [ "$OK" = 1 ]; then
				lo=$rate
				[ "$ACHIEVED" -gt "$lo_achieved" ] && lo_achieved=$ACHIEVED
			else
				hi=$rate
			fi
		done
	fi
	if [ "$limited" = 1 ]; then
		log "RESULT $label: at least $lo_achieved lines/s with 0 drops (the sender's limit)"
	else
		log "RESULT $label: $lo_achieved lines/s with 0 drops (first loss offered at $hi/s)"
	fi
	stop_serve "$pid"
}

# at RATE LINES SERVE_FLAGS...: one trial at RATE on a fresh serve.
at() {
	local rate=$1 plen=$2
	shift 2
	start_serve at "$HTTP_PORT" "$@"
	local pid=$PID
	log "at $rate/s, $plen lines, serve ${*:-(defaults)}:"
	trial "$rate" "$plen"
	stop_serve "$pid"
}

# cpu RATE LINES [SERVE_FLAGS...]: CPU per line of one serve at RATE for
# CPU_SECONDS; adds a row to CPU_ROWS.
CPU_ROWS=()
cpu() {
	local rate=$1 plen=$2 t0 t1 l0 l1
	shift 2
	start_serve cpu "$HTTP_PORT" "$@"
	local pid=$PID flags="${*:-(defaults)}"
	# Idle first: what the process costs without traffic.
	t0=$(cpu_ticks "$pid")
	sleep 10
	t1=$(cpu_ticks "$pid")
	local idle=$((t1 - t0))
	l0=$(lines_of "$HTTP_PORT")
	t0=$(cpu_ticks "$pid")
	send "$rate" "$CPU_SECONDS" "$plen"
	settle "$HTTP_PORT"
	t1=$(cpu_ticks "$pid")
	l1=$(lines_of "$HTTP_PORT")
	local lines=$((l1 - l0)) ticks=$((t1 - t0)) drops load per
	drops=$(drops_of "$HTTP_PORT")
	load=$(cut -d' ' -f1 /proc/loadavg)
	per=$(awk -v t="$ticks" -v n="$lines" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
	log "RESULT cpu at $rate lines/s of $plen lines, serve $flags (achieved $ACHIEVED): $lines lines, $ticks ticks of 1/$CLK_TCK s;" \
		"$per us CPU per line; kernel drops $drops; idle: $idle ticks in 10 s; load $load"
	local len=$short_len
	[ "$plen" = long ] && len=2048
	CPU_ROWS+=("| $len B | $rate | $flags | $ACHIEVED | $lines | $ticks | $per | $drops | $idle | $load |")
	stop_serve "$pid"
}

# spread SOURCES: two serve processes share the port with --reuse-port;
# SOURCES `ingest send` processes, one socket each (as nginx workers),
# send 2,000 lines each; prints each instance's share.
spread() {
	local n=$1
	start_serve a "$HTTP_PORT" --reuse-port
	local pa=$PID
	start_serve b $((HTTP_PORT + 1)) --reuse-port
	local pb=$PID
	local pids=()
	for i in $(seq "$n"); do
		"$BIN" send --addr "127.0.0.1:$UDP_PORT" --rate 2000 --count 2000 --seed "$i" >/dev/null 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	settle "$HTTP_PORT" $((HTTP_PORT + 1))
	log "RESULT spread of $n senders over 2 instances: $(lines_of "$HTTP_PORT") and $(lines_of $((HTTP_PORT + 1))) lines"
	stop_serve "$pa"
	stop_serve "$pb"
}

# memory: the live heap one series costs, with the store filled by junk
# paths to its --max-series budget (10,000) and the per-path table kept
# at one path. The heap is read after a forced GC (pprof's heap?gc=1).
memory() {
	start_serve mem "$HTTP_PORT" --max-paths 1
	local pid=$PID h0 h1 s0 s1
	curl -sf "http://127.0.0.1:$HTTP_PORT/debug/pprof/heap?gc=1" >/dev/null
	h0=$(metric "$HTTP_PORT" ingest_heap_live_bytes)
	s0=$(metric "$HTTP_PORT" ingest_series)
	send 5000 4 long
	settle "$HTTP_PORT"
	curl -sf "http://127.0.0.1:$HTTP_PORT/debug/pprof/heap?gc=1" >/dev/null
	h1=$(metric "$HTTP_PORT" ingest_heap_live_bytes)
	s1=$(metric "$HTTP_PORT" ingest_series)
	log "RESULT memory: $((s1 - s0)) series (overflow $(metric "$HTTP_PORT" ingest_series_overflow_total) lines)," \
		"live heap $h0 -> $h1 B: $(((h1 - h0) / (s1 - s0))) B per series"
	stop_serve "$pid"
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(capacity cpu memory spread)
log "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
log "# bench/capacity/run.sh ${steps[*]}  (TRIAL=$TRIAL CPU_SECONDS=$CPU_SECONDS SERVE_ARGS=$SERVE_ARGS AT_SHORT=$AT_SHORT AT_LONG=$AT_LONG AT_ROUNDS=$AT_ROUNDS) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# The lines: nginx route-metrics traffic (send --routes-mix: API paths
# from about 50 templates, the host, request and upstream times), which
# serve reads with route metrics, from 16 source ports as 16 nginx workers
# would send them (one port would reach one reader only). Short lines are the mix's own; long ones
# carry a junk path, each never seen before, sized to make 2 KiB lines:
# the worst case for the series store, whose budget they overflow.
FORMAT=$("$BIN" send --print-format)
SERVE_FLAGS=(--log-format "$FORMAT")
SHORT=(--routes-mix --sources 16)
LONG=(--routes-mix --sources 16 --unique 1 --path-length 100)
start_serve probe "$HTTP_PORT"
short_len=$(line_length short)
junk_base=$(line_length long)
stop_serve "$PID"
LONG=(--routes-mix --sources 16 --unique 1 --path-length $((100 + 2048 - junk_base)))
log "# short lines: ${SHORT[*]}, $short_len B on average; long lines: ${LONG[*]}, 2048 B"

for step in "${steps[@]}"; do
	case $step in
	capacity)
		capacity "short lines, 1 reader" short --readers 1
		capacity "short lines, 2 readers" short --readers 2 --reuse-port
		capacity "2 KiB lines, 1 reader" long --readers 1
		capacity "2 KiB lines, 2 readers" long --readers 2 --reuse-port
		;;
	cpu)
		# Each rate with the default delay and without, one after the
		# other, so that both see the same machine.
		for plen in short long; do
			for rate in 1500 5000 20000; do
				cpu "$rate" "$plen"
				cpu "$rate" "$plen" --batch-delay 0
			done
		done
		log ""
		log "| line | lines/s | serve flags | achieved/s | lines | CPU ticks (1/$CLK_TCK s) | µs CPU per line | kernel drops | idle ticks in 10 s | load |"
		log "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for row in "${CPU_ROWS[@]}"; do log "$row"; done
		log ""
		;;
	at)
		for _ in $(seq "$AT_ROUNDS"); do
			at "$AT_SHORT" short
			at "$AT_SHORT" short --batch-delay 0
			at "$AT_LONG" long
			at "$AT_LONG" long --batch-delay 0
		done
		;;
	memory) memory ;;
	spread)
		# Three rounds: each gets other ephemeral ports, so other hashes.
		for _ in 1 2 3; do
			for n in 2 4 8 16; do spread "$n"; done
		done
		;;
	*)
		echo "unknown step $step: want capacity, cpu, at, memory or spread" >&2
		exit 2
		;;
	esac
done
