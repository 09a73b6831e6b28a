# classify.awk: reads `perf script` output of `perf record -g -p PID` on
# ingest serve and prints the share of samples per stage of a line, user
# ([u]) or kernel ([k]) by the sampled frame, attributed by the first
# matching frame name anywhere in the stack.
function flush() {
	if (n == 0) return
	kern = (top ~ /kallsyms/)
	cls = "other"
	if (stack ~ /pathtable|keyed\./) cls = "path table (keyed)"
	else if (stack ~ /routemetrics/) cls = (stack ~ /route\.\(\*Templater\)/) ? "route template" : "route store"
	else if (stack ~ /Parser\)\.Parse/) cls = "parse"
	else if (stack ~ /recvmmsg|Syscall6|mmsgReader/) cls = "recvmmsg"
	else if (stack ~ /heapwatch/) cls = "heapwatch"
	else if (stack ~ /gcBgMarkWorker|gcDrain|mallocgc|bgsweep|scavenge/) cls = "GC, allocation"
	else if (stack ~ /schedule|findRunnable|futex|notesleep|netpoll|epoll|park_m|mcall|usleep|sysmon|nanosleep/) cls = "scheduler, futex, epoll, timers"
	else if (stack ~ /lineHandler|reader\)\.handle/) cls = "framing, dispatch"
	tot++
	c[cls (kern ? " [k]" : " [u]")]++
	n = 0; stack = ""; top = ""
}
/^[^ \t]/ { flush(); next }
/^[ \t]*$/ { flush(); next }
{ n++; if (n == 1) top = $0; stack = stack "|" $0 }
END { flush(); for (k in c) printf "%6.1f%%  %s\n", 100 * c[k] / tot, k | "sort -rn" }
