#!/usr/bin/env bash
# measure.sh BIN RATE SECONDS short|long [serve flags...]: one `ingest serve`
# (BIN) fed RATE lines/s of bench/capacity/run.sh's short (249 B) or long
# (2 KiB, every path new) lines for SECONDS; prints the serve process's CPU
# (utime, stime from /proc/PID/stat) per line counted, and the load.
# HOOK, if set, is run by bash 3 s into the load with PID and HTTP set (for
# perf record, perf stat, strace -c or a pprof download). Ports: UDP
# (default 55240) and HTTP (default 59614). Everything it starts is stopped
# by pid; the load is bounded by SECONDS.
set -u
BIN=$1 RATE=$2 SECS=$3 KIND=$4
shift 4
UDP=${UDP:-55240} HTTP=${HTTP:-59614}
FORMAT=$("$BIN" send --print-format)
W=$(mktemp -d)
"$BIN" serve --listen "127.0.0.1:$UDP" --http "127.0.0.1:$HTTP" --heap-interval 1h \
	--profile-dir "$W/prof" --log-format "$FORMAT" "$@" >"$W/out" 2>"$W/err" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
metric() { curl -sf "http://127.0.0.1:$HTTP/metrics" | awk -v s="$1" '$1 == s { printf "%.0f\n", $2; f = 1 } END { if (!f) print 0 }'; }
ticks() { sed 's/.*) //' "/proc/$PID/stat" | awk '{ print $12, $13 }'; }
if [ "$KIND" = short ]; then F=(--routes-mix --sources 16); else F=(--routes-mix --sources 16 --unique 1 --path-length 1843); fi
sleep 2
l0=$(metric ingest_lines_total)
read -r u0 s0 < <(ticks)
gc0=$(metric ingest_heap_gc_cycles_total)
HP=
if [ -n "${HOOK:-}" ]; then
	(sleep 3; PID=$PID HTTP=$HTTP bash -c "$HOOK") &
	HP=$!
fi
timeout $((SECS + 10)) "$BIN" send --addr "127.0.0.1:$UDP" --rate "$RATE" --duration "${SECS}s" "${F[@]}" >/dev/null 2>&1
prev=-1
for _ in $(seq 50); do cur=$(metric ingest_lines_total); [ "$cur" = "$prev" ] && break; prev=$cur; sleep 0.2; done
read -r u1 s1 < <(ticks)
l1=$(metric ingest_lines_total)
gc1=$(metric ingest_heap_gc_cycles_total)
[ -n "$HP" ] && wait "$HP"
kill "$PID"
wait "$PID" 2>/dev/null
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n=$((l1 - l0)) -v hz="$(getconf CLK_TCK)" -v b="$(basename "$BIN")" \
	-v r="$RATE" -v k="$KIND" -v gc="$gc0->$gc1" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
	'BEGIN { printf "%s %s %s/s lines=%d user=%d sys=%d ticks -> %.2f us/line (user %.2f sys %.2f) gc %s load %s\n",
		b, k, r, n, u, s, (u+s)/hz/n*1e6, u/hz/n*1e6, s/hz/n*1e6, gc, load }'
rm -rf "$W"
