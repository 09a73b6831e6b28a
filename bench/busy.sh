#!/usr/bin/env bash
# busy.sh: run a command while N CPU-bound processes ("yes > /dev/null")
# keep other cores busy, then stop exactly those processes by their pids.
#
#   bench/busy.sh [-n N] [-r RUNS] -- command [args...]
#
# N defaults to 2, RUNS to 1. The command is run RUNS times in a row; the
# load average is printed before each run, and each run's exit status
# after it. busy.sh exits with the highest status any run had.
set -u
n=2
runs=1
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n=$2; shift 2 ;;
	-r) runs=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	echo "usage: $0 [-n N] [-r RUNS] -- command [args...]" >&2
	exit 2
fi
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
trap stop EXIT
trap 'stop; exit 130' INT TERM
for _ in $(seq "$n"); do
	yes > /dev/null &
	pids+=($!)
done
echo "busy.sh: $n CPU-bound processes: pids ${pids[*]}"
worst=0
for i in $(seq "$runs"); do
	echo "busy.sh: run $i of $runs; $(uptime)"
	"$@"
	rc=$?
	echo "busy.sh: run $i of $runs exited $rc"
	[ "$rc" -gt "$worst" ] && worst=$rc
done
echo "busy.sh: done; $(uptime)"
exit "$worst"
