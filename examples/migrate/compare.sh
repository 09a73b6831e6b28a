#!/usr/bin/env bash
# compare.sh [DURATION]: runs examples/migrate and the daemon it replaced
# (examples/migrate/before) side by side on loopback, sends both the same
# load for DURATION (default 180s: 1,500 lines/s, 2 KiB paths, a pool of
# 1,000 and half of them never seen before, behind an RFC 3164 header),
# and says when each one's heap monitor first called its heap growing, if
# ever, and how often its verdict changed after that. Each logs
# heapwatch's summary every 5 s; the logs, their final counts, their
# heap monitors' samples (NAME.jsonl, a heapwatch.Sample a line) and the
# sender's summary stay in the directory it prints.
#
#	examples/migrate/compare.sh 180s
#
# Exit status: 0 when the migrated daemon never grew and the one before
# did; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
duration=${1:-180s}
out=$(mktemp -d /tmp/migrate-compare.XXXXXX)
echo "== building into $out"
go build -o "$out/migrate" ./examples/migrate
go build -o "$out/before" ./examples/migrate/before
go build -o "$out/ingest" ./cmd/ingest

pids=()
stop() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap stop EXIT

# start NAME: runs the daemon NAME on a free port; sets addr to its address.
start() {
	"$out/$1" --listen 127.0.0.1:0 --heap-every 5s --samples "$out/$1.jsonl" >"$out/$1.out" 2>"$out/$1.log" &
	pids+=($!)
	for _ in $(seq 200); do
		addr=$(grep -o 'msg=listening udp=[0-9.:]*' "$out/$1.log" | cut -d= -f3 || true)
		[ -n "$addr" ] && return
		sleep 0.05
	done
	echo "$1 did not start:"; cat "$out/$1.log"; exit 1
}
start migrate; migrate=$addr
start before; before=$addr
echo "== migrate on $migrate, before on $before; sending for $duration"
started=$(date +%s)
"$out/ingest" send --addr "$migrate,$before" --rate 1500 --duration "$duration" \
	--path-length 2048 --paths 1000 --unique 0.5 --syslog 3164 >"$out/send.out" 2>/dev/null || true
stop
wait || true
trap - EXIT
cat "$out/send.out"

# verdict NAME: the first heap line that says growing, with its time from
# the start of the load, or "never".
status=0
for name in migrate before; do
	line=$(grep -m1 'growing=true' "$out/$name.log" || true)
	heaps=$(grep -c 'msg="heap' "$out/$name.log" || true)
	if [ -z "$line" ]; then
		echo "$name: never growing in $heaps heap lines; last: $(grep 'msg="heap' "$out/$name.log" | tail -1 | sed 's/.*msg="heap //; s/" growth=/ | growth=/')"
		[ "$name" = before ] && status=1
	else
		at=$(date -d "$(echo "$line" | sed 's/^time=\([^ ]*\).*/\1/')" +%s)
		echo "$name: growing after $((at - started))s: $(echo "$line" | sed 's/.*msg="heap //; s/" growth=/ | growth=/')"
		# From the first growing line on: how many said growing, and how
		# often the verdict changed between growing and not.
		echo "   since then: $(grep 'msg="heap' "$out/$name.log" | grep -o 'growing=[a-z]*' |
			awk '/true/ { seen = 1 } seen { n++; g += /true/; if (n > 1 && $0 != prev) c++; prev = $0 }
			END { printf "growing in %d of %d heap lines, verdict changed %d times", g, n, c }')"
		[ "$name" = migrate ] && status=1
	fi
	echo "   final: $(tr '\n' ' ' <"$out/$name.out" | cut -c1-300)"
done
echo "== logs in $out"
exit $status
