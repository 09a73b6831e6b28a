#!/usr/bin/env bash
# Forwarding end to end: nginx access lines over UDP syslog into a real
# VictoriaLogs, through `ingest serve --forward` and through Debian's
# rsyslog (imudp + omelasticsearch, bulk mode, posting to VictoriaLogs'
# _bulk endpoint), the same lines into the same store on the same
# machine, one shipper after the other. docs/benchmarks.md ("Forwarding
# end to end") reports its output.
#
# What it measures, for each trial: the lines `ingest send` sent; the lines
# VictoriaLogs stored from that shipper (LogsQL count() over its HTTP API,
# the shipper told apart by a field `shipper`); the kernel's drops on the
# shipper's UDP socket (/proc/net/udp); serve's own drops
# (ingest_forward_dropped_total); and the CPU time of the shipper's
# process and of VictoriaLogs' (utime + stime, /proc/PID/stat) from the
# first line sent until every line was stored, or the count stood still
# for SETTLE s, or MAX_WAIT s passed after the last line sent. CPU per
# line: the shipper's per line it received (sent - kernel drops), the
# store's per line it stored. A trial is ok when nothing was dropped
# anywhere and the last line was stored within MAX_DRAIN s of the last one
# sent (so that a queue filling up during a short trial, serve's budget or
# rsyslog's action queue, does not pass for a rate the chain sustains).
#
# Steps (arguments; default: fixed alone streams max):
#   fixed    FIXED_RATE lines/s for FIXED_SECONDS through each shipper in
#            turn: serve with a jsonline sink (/insert/jsonline), every
#            field; serve with an es sink (the _bulk endpoint, as rsyslog),
#            every field; serve, jsonline, --forward-fields $FEW_FIELDS;
#            serve, jsonline, --forward-fields time,msg (the record rsyslog
#            sends: the time and the raw line); rsyslog.
#   alone    serve without --forward at FIXED_RATE for FIXED_SECONDS, its
#            lines counted on /metrics: the CPU per line of the same serve
#            when it does not forward, in the same run.
#   streams  serve, jsonline, every field, at FIXED_RATE for FIXED_SECONDS
#            with _stream_fields=vhost (one stream: these lines log no
#            $host) instead of the default vhost,route (a stream per route
#            template: about a thousand with these random paths): what
#            VictoriaLogs' streams cost it.
#   max      for serve (jsonline, every field), serve (jsonline, time,msg)
#            and rsyslog: the highest offered rate of a TRIAL-second trial
#            that is ok, by doubling from MAX_START, then BISECT bisections.
#
# rsyslog forwards the raw line, parsing nothing: a floor for a shipper's
# cost, not a peer doing the same work. serve parses each line, keeps its
# route metrics and path table, and ships a record of ~20 fields, which
# costs VictoriaLogs several times more CPU to store than rsyslog's record
# of two, and more again in a stream per route. Each RESULT line gives the
# number of streams the trial's logs went to.
#
# Everything runs on this machine's cores: `ingest send`, the shipper and
# VictoriaLogs share them, and VictoriaLogs is the largest consumer. Run
# it in a quiet window, and read the load averages on each RESULT line.
#
# Run from the repository root:
#
#   bench/forward/run.sh              # every step: about 7 min
#   FIXED_SECONDS=10 bench/forward/run.sh fixed alone streams   # 2 min
#
# (fixed alone max with FIXED_SECONDS=10 took 5 min on a busy machine, 19
# trials. Each trial lasts at most its duration + MAX_WAIT + a few
# seconds, and max's search at most 9 trials a shipper.)
#
# Needs: go (builds ./cmd/ingest), VictoriaLogs at /root/go/bin/victoria-logs
# or $VICTORIA_LOGS (go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2),
# Debian's rsyslog and rsyslog-elasticsearch (rsyslogd with
# omelasticsearch), curl, awk. Nothing needs root.
#
# Environment (defaults): FIXED_RATE (10000), FIXED_SECONDS (20), TRIAL
# (10), MAX_START (5000), BISECT (2), SETTLE (3), MAX_DRAIN (3), MAX_WAIT
# (20), FEW_FIELDS (time,msg,status,method,route,vhost,request_time);
# loopback ports VL_PORT (59428), UDP_PORT (55150), RS_PORT (55151),
# HTTP_PORT (59515). Every process is started here, with directories of
# its own under a temporary directory, and stopped by its pid (SIGTERM),
# also on an error or ^C. Every loop is bounded: `ingest send` by
# --duration, each wait by MAX_WAIT or a count. RESULT lines go to stdout
# and are appended to bench/forward/out/log.txt (not committed).
set -euo pipefail

FIXED_RATE=${FIXED_RATE:-10000}
FIXED_SECONDS=${FIXED_SECONDS:-20}
TRIAL=${TRIAL:-10}
MAX_START=${MAX_START:-5000}
BISECT=${BISECT:-2}
SETTLE=${SETTLE:-3}
MAX_DRAIN=${MAX_DRAIN:-3}
MAX_WAIT=${MAX_WAIT:-20}
FEW_FIELDS=${FEW_FIELDS:-time,msg,status,method,route,vhost,request_time}
VL_PORT=${VL_PORT:-59428}
UDP_PORT=${UDP_PORT:-55150}
RS_PORT=${RS_PORT:-55151}
HTTP_PORT=${HTTP_PORT:-59515}
VL_BIN=${VICTORIA_LOGS:-/root/go/bin/victoria-logs}
OUT=bench/forward/out

[ -f go.mod ] && [ -d cmd/ingest ] || { echo "run.sh: run from the repository root" >&2; exit 2; }
[ -x "$VL_BIN" ] || { echo "run.sh: no VictoriaLogs at $VL_BIN (set VICTORIA_LOGS)" >&2; exit 2; }
command -v rsyslogd >/dev/null || { echo "run.sh: no rsyslogd (Debian: rsyslog rsyslog-elasticsearch)" >&2; exit 2; }
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so ] || ls /usr/lib/*/rsyslog/omelasticsearch.so >/dev/null 2>&1 ||
	{ echo "run.sh: no omelasticsearch (Debian: rsyslog-elasticsearch)" >&2; exit 2; }
for s in "$@"; do
	case $s in fixed | alone | max | streams) ;; *) echo "run.sh: unknown step $s (fixed alone max streams)" >&2; exit 2 ;; esac
done

mkdir -p "$OUT"
WORK=$(mktemp -d)
BIN=$WORK/ingest
PIDS=()
CLK_TCK=$(getconf CLK_TCK)
VL=http://127.0.0.1:$VL_PORT

# The lines: nginx's combined format behind the RFC 3164 header nginx's
# syslog: target writes, paths of 2 KiB, half of them never seen before
# (the soak's load).
SEND_FLAGS=(--syslog 3164 --path-length 2048 --paths 1000 --unique 0.5)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR

log() { echo "$*" | tee -a "$OUT/log.txt"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# stop PID: SIGTERM, wait up to 30 s, then SIGKILL; forget it.
stop() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# cpu_ticks PID: utime + stime of the process, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# per_line TICKS LINES: microseconds of CPU per line.
per_line() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.2f", t / hz / n * 1e6; else print "-" }'; }

# udp_drops PORT: the kernel's drops on the loopback UDP socket of PORT.
udp_drops() {
	awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp
}

# stored SHIPPER: the logs VictoriaLogs holds from SHIPPER (a busy store
# may answer slowly: three tries of 20 s).
stored() {
	local n
	curl -sf --max-time 20 "$VL/internal/force_flush" >/dev/null || true
	for _ in 1 2 3; do
		n=$(curl -sf --max-time 20 "$VL/select/logsql/query" --data-urlencode "query=shipper:=$1 | stats count() as n" |
			sed -n 's/.*"n":"\([0-9]*\)".*/\1/p') || true
		[ -n "$n" ] && { echo "$n"; return 0; }
	done
	echo "run.sh: VictoriaLogs does not answer its count query" >&2
	return 1
}

# streams SHIPPER: the streams VictoriaLogs keeps the logs of SHIPPER in.
streams() {
	curl -sf --max-time 20 "$VL/select/logsql/query" --data-urlencode "query=shipper:=$1 | stats count_uniq(_stream) as s" |
		sed -n 's/.*"s":"\([0-9]*\)".*/\1/p' || true
}

# metric SERIES: a series of serve's /metrics (0 when absent).
metric() {
	curl -sf --max-time 10 "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk -v s="$1" '$1 == s { printf "%.0f\n", $2; f = 1 } END { if (!f) print 0 }'
}

# send PORT RATE SECONDS: `ingest send`; sets SENT and ACHIEVED from its
# summary line.
send() {
	local summary
	summary=$("$BIN" send --addr "127.0.0.1:$1" --rate "$2" --duration "${3}s" "${SEND_FLAGS[@]}" 2>/dev/null) || true
	summary=${summary%%$'\n'*}
	SENT=$(echo "$summary" | sed -n 's/.* lines=\([0-9]*\) .*/\1/p')
	ACHIEVED=$(echo "$summary" | sed -n 's/.* rate=\([0-9]*\) lines\/s.*/\1/p')
	[ -n "$SENT" ] || { echo "run.sh: no summary from ingest send: $summary" >&2; return 1; }
}

start_vl() {
	"$VL_BIN" -httpListenAddr "127.0.0.1:$VL_PORT" -storageDataPath "$WORK/vl" -loggerLevel ERROR \
		-inmemoryDataFlushInterval 1s -retentionPeriod 100y -futureRetention 100y >"$WORK/vl.log" 2>&1 &
	VL_PID=$!
	PIDS+=("$VL_PID")
	for _ in $(seq 100); do curl -sf --max-time 2 "$VL/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
	cat "$WORK/vl.log" >&2
	return 1
}

# start_serve [FLAGS...]: serve on UDP_PORT; sets PID.
start_serve() {
	"$BIN" serve --listen "127.0.0.1:$UDP_PORT" --http "127.0.0.1:$HTTP_PORT" \
		--heap-interval 1h --profile-dir "$WORK/profiles" "$@" \
		>"$WORK/serve.out" 2>"$WORK/serve.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$WORK/serve.err" >&2
	return 1
}

# start_rsyslog: rsyslogd in the foreground with a configuration and work
# directory of its own: imudp on RS_PORT with the receive buffer serve
# asks for, omelasticsearch in bulk mode to VictoriaLogs' _bulk endpoint,
# the raw message as _msg; sets PID.
start_rsyslog() {
	rm -rf "$WORK/rsyslog"
	mkdir -p "$WORK/rsyslog"
	cat >"$WORK/rsyslog/rsyslog.conf" <<-CONF
		global(workDirectory="$WORK/rsyslog")
		module(load="imudp")
		input(type="imudp" address="127.0.0.1" port="$RS_PORT" rcvbufSize="8m")
		module(load="omelasticsearch")
		template(name="vl" type="list" option.jsonf="on") {
			property(outname="_time" name="timereported" dateFormat="rfc3339" format="jsonf")
			property(outname="_msg" name="msg" format="jsonf")
			constant(outname="shipper" value="rsyslog" format="jsonf")
		}
		action(type="omelasticsearch" server="$VL/insert/elasticsearch" searchIndex="nginx"
			template="vl" bulkmode="on" queue.type="LinkedList" queue.size="100000"
			queue.dequeueBatchSize="1024" queue.workerThreads="2" action.resumeRetryCount="-1")
	CONF
	rsyslogd -N1 -f "$WORK/rsyslog/rsyslog.conf" >"$WORK/rsyslog.check" 2>&1 || { cat "$WORK/rsyslog.check" >&2; return 1; }
	rsyslogd -n -f "$WORK/rsyslog/rsyslog.conf" -i "$WORK/rsyslog/rsyslogd.pid" >"$WORK/rsyslog.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		grep -q "$(printf ':%04X ' "$RS_PORT")" /proc/net/udp && return 0
		sleep 0.1
	done
	cat "$WORK/rsyslog.log" >&2
	return 1
}

# trial NAME SHIPPER PID PORT RATE SECONDS: one trial; sets OK (1 when
# nothing was dropped and the store caught up within MAX_DRAIN s) and
# RATE_STORED, and logs a RESULT line. SINK_NAME is serve's sink label.
trial() {
	local name=$1 shipper=$2 pid=$3 port=$4 rate=$5 secs=$6
	local s0 c d0 t0 v0 l0 start sent_at n prev=-1 still=0 end t1 v1 d1 drops received fwd_dropped=0 drain
	s0=$(stored "$shipper")
	d0=$(udp_drops "$port")
	t0=$(cpu_ticks "$pid")
	v0=$(cpu_ticks "$VL_PID")
	l0=$(load)
	start=$(date +%s.%N)
	send "$port" "$rate" "$secs"
	sent_at=$(date +%s)
	# Until every line is stored, the count stood still for SETTLE s, or
	# MAX_WAIT s passed.
	while :; do
		c=$(stored "$shipper")
		n=$((c - s0))
		[ "$n" -ge "$SENT" ] && break
		[ $(($(date +%s) - sent_at)) -ge "$MAX_WAIT" ] && break
		if [ "$n" = "$prev" ]; then
			still=$((still + 1))
			[ "$still" -ge "$SETTLE" ] && break
		else
			still=0
		fi
		prev=$n
		sleep 1
	done
	end=$(date +%s.%N)
	t1=$(cpu_ticks "$pid")
	v1=$(cpu_ticks "$VL_PID")
	d1=$(udp_drops "$port")
	drops=$((d1 - d0))
	received=$((SENT - drops))
	if [ "$shipper" != rsyslog ]; then
		fwd_dropped=$(metric 'ingest_forward_records_total{sink="'"$SINK_NAME"'",result="dropped"}')
	fi
	drain=$(awk -v a="$start" -v b="$end" -v s="$secs" 'BEGIN { printf "%.1f", b - a - s }')
	OK=0
	if [ "$n" -eq "$SENT" ] && [ "$drops" -eq 0 ] && [ "$fwd_dropped" -eq 0 ] &&
		awk -v d="$drain" -v m="$MAX_DRAIN" 'BEGIN { exit !(d <= m) }'; then
		OK=1
	fi
	RATE_STORED=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	log "RESULT $name offered=$rate/s for ${secs}s sent=$SENT achieved=$ACHIEVED/s stored=$n" \
		"stored_per_s=$RATE_STORED streams=$(streams "$shipper") kernel_drops=$drops forward_dropped=$fwd_dropped drain_s=$drain" \
		"shipper_ticks=$((t1 - t0)) shipper_us_per_line=$(per_line $((t1 - t0)) "$received")" \
		"vl_ticks=$((v1 - v0)) vl_us_per_line=$(per_line $((v1 - v0)) "$n")" \
		"ok=$OK load_before=\"$l0\" load_after=\"$(load)\""
}

# serve_trial NAME SINK_URL SINK_NAME SHIPPER RATE SECONDS [FLAGS...]: a
# trial on a fresh serve with one --forward sink.
serve_trial() {
	local name=$1 url=$2 shipper=$4 rate=$5 secs=$6
	SINK_NAME=$3
	shift 6
	start_serve --forward "$url" "$@"
	local pid=$PID
	trial "$name" "$shipper" "$pid" "$UDP_PORT" "$rate" "$secs"
	stop "$pid"
	log "  serve's final counts: $(grep '^forward ' "$WORK/serve.out" | cut -d' ' -f3-)"
}

# rsyslog_trial NAME RATE SECONDS: a trial on a fresh rsyslogd.
rsyslog_trial() {
	start_rsyslog
	local pid=$PID
	trial "$1" rsyslog "$pid" "$RS_PORT" "$2" "$3"
	stop "$pid"
}

JSONLINE="jsonline+http://127.0.0.1:$VL_PORT/insert/jsonline?extra_fields=shipper=ingest-jsonline"
JSONLINE_NAME="jsonline+http://127.0.0.1:$VL_PORT/insert/jsonline"
BULK="es+http://127.0.0.1:$VL_PORT/insert/elasticsearch/nginx?_time_field=@timestamp&_msg_field=message&extra_fields=shipper=ingest-bulk"
BULK_NAME="es+http://127.0.0.1:$VL_PORT/insert/elasticsearch/nginx"
FEW="jsonline+http://127.0.0.1:$VL_PORT/insert/jsonline?extra_fields=shipper=ingest-few"
ONE="jsonline+http://127.0.0.1:$VL_PORT/insert/jsonline?extra_fields=shipper=ingest-one&_stream_fields=vhost"
MSG="jsonline+http://127.0.0.1:$VL_PORT/insert/jsonline?extra_fields=shipper=ingest-msg"

# alone: serve's CPU per line without --forward, at FIXED_RATE.
alone() {
	local pid l0 c t0 d0 lb n prev=-1 t1 d1 sent_at
	start_serve
	pid=$PID
	l0=$(metric ingest_lines_total)
	d0=$(udp_drops "$UDP_PORT")
	t0=$(cpu_ticks "$pid")
	lb=$(load)
	send "$UDP_PORT" "$FIXED_RATE" "$FIXED_SECONDS"
	sent_at=$(date +%s)
	while :; do
		c=$(metric ingest_lines_total)
		n=$((c - l0))
		[ "$n" = "$prev" ] && break
		[ $(($(date +%s) - sent_at)) -ge "$MAX_WAIT" ] && break
		prev=$n
		sleep 1
	done
	t1=$(cpu_ticks "$pid")
	d1=$(udp_drops "$UDP_PORT")
	log "RESULT alone serve without --forward offered=$FIXED_RATE/s for ${FIXED_SECONDS}s sent=$SENT achieved=$ACHIEVED/s" \
		"counted=$n kernel_drops=$((d1 - d0)) shipper_ticks=$((t1 - t0)) shipper_us_per_line=$(per_line $((t1 - t0)) "$n")" \
		"load_before=\"$lb\" load_after=\"$(load)\""
	stop "$pid"
}

# max NAME KIND: the highest rate of a trial that is ok; KIND serve,
# serve-msg or rsyslog.
max() {
	local name=$1 kind=$2 rate=$MAX_START lo=0 lo_stored=0 hi=0
	run() {
		case $kind in
		serve) serve_trial "$name" "$JSONLINE" "$JSONLINE_NAME" ingest-jsonline "$1" "$TRIAL" ;;
		serve-msg) serve_trial "$name" "$MSG" "$JSONLINE_NAME" ingest-msg "$1" "$TRIAL" --forward-fields time,msg ;;
		*) rsyslog_trial "$name" "$1" "$TRIAL" ;;
		esac
	}
	while [ "$rate" -le 320000 ]; do
		run "$rate"
		if [ "$OK" = 1 ]; then
			lo=$rate lo_stored=$RATE_STORED
			rate=$((rate * 2))
		else
			hi=$rate
			break
		fi
	done
	if [ "$hi" -gt "$lo" ] && [ "$lo" -gt 0 ]; then
		for _ in $(seq "$BISECT"); do
			rate=$(((lo + hi) / 2))
			run "$rate"
			if [ "$OK" = 1 ]; then lo=$rate lo_stored=$RATE_STORED; else hi=$rate; fi
		done
	fi
	log "RESULT max $name: $lo lines/s offered with nothing dropped ($lo_stored stored/s); first loss offered at $hi/s"
}

go build -o "$BIN" ./cmd/ingest
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(fixed alone streams max)
began=$(date +%s)
log "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc); load: $(load)"
log "# bench/forward/run.sh ${steps[*]} (FIXED_RATE=$FIXED_RATE FIXED_SECONDS=$FIXED_SECONDS TRIAL=$TRIAL MAX_START=$MAX_START BISECT=$BISECT SETTLE=$SETTLE MAX_DRAIN=$MAX_DRAIN MAX_WAIT=$MAX_WAIT FEW_FIELDS=$FEW_FIELDS) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+changes')"
log "# VictoriaLogs $(go version -m "$VL_BIN" | awk '$1 == "mod" { print $3 }'); $(rsyslogd -v | head -1 | sed 's/ *compiled with://'); send ${SEND_FLAGS[*]}"
start_vl
for step in "${steps[@]}"; do
	case $step in
	fixed)
		serve_trial "fixed serve jsonline" "$JSONLINE" "$JSONLINE_NAME" ingest-jsonline "$FIXED_RATE" "$FIXED_SECONDS"
		serve_trial "fixed serve bulk" "$BULK" "$BULK_NAME" ingest-bulk "$FIXED_RATE" "$FIXED_SECONDS"
		serve_trial "fixed serve jsonline $FEW_FIELDS" "$FEW" "$JSONLINE_NAME" ingest-few "$FIXED_RATE" "$FIXED_SECONDS" --forward-fields "$FEW_FIELDS"
		serve_trial "fixed serve jsonline time,msg" "$MSG" "$JSONLINE_NAME" ingest-msg "$FIXED_RATE" "$FIXED_SECONDS" --forward-fields time,msg
		rsyslog_trial "fixed rsyslog" "$FIXED_RATE" "$FIXED_SECONDS"
		;;
	alone)
		alone
		;;
	streams)
		serve_trial "fixed serve jsonline one stream" "$ONE" "$JSONLINE_NAME" ingest-one "$FIXED_RATE" "$FIXED_SECONDS"
		;;
	max)
		max "serve jsonline" serve
		max "serve jsonline time,msg" serve-msg
		max "rsyslog" rsyslog
		;;
	esac
done
log "# done $(date -u +%Y-%m-%dT%H:%MZ) after $(($(date +%s) - began)) s; load: $(load)"
