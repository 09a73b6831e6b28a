package main

import (
	"bufio"
	"strconv"

	"github.com/flatheap/ingest/heapwatch"
)

// promWriter writes serve's own families in the Prometheus text format
// (version 0.0.4), each with # HELP and # TYPE, through a reused buffer.
type promWriter struct {
	w   *bufio.Writer
	buf []byte
}

// family starts a family.
func (p *promWriter) family(name, typ, help string) {
	p.buf = append(p.buf[:0], "# HELP "...)
	p.buf = append(p.buf, name...)
	p.buf = append(p.buf, ' ')
	p.buf = append(p.buf, help...)
	p.buf = append(p.buf, "\n# TYPE "...)
	p.buf = append(p.buf, name...)
	p.buf = append(p.buf, ' ')
	p.buf = append(p.buf, typ...)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

// start begins a sample of name in p.buf, with the label label="value"
// (value escaped) when label is not empty.
func (p *promWriter) start(name, label, value string) {
	p.buf = append(p.buf[:0], name...)
	if label != "" {
		p.buf = append(p.buf, '{')
		p.buf = append(p.buf, label...)
		p.buf = append(p.buf, `="`...)
		p.buf = append(p.buf, promLabelValue(value)...)
		p.buf = append(p.buf, `"}`...)
	}
	p.buf = append(p.buf, ' ')
}

// uint writes a sample with an integer value.
func (p *promWriter) uint(name, label, value string, v uint64) {
	p.start(name, label, value)
	p.buf = strconv.AppendUint(p.buf, v, 10)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

// float writes a sample with a float value.
func (p *promWriter) float(name, label, value string, v float64) {
	p.start(name, label, value)
	p.buf = strconv.AppendFloat(p.buf, v, 'g', -1, 64)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

// counter writes a family of one unlabelled counter.
func (p *promWriter) counter(name, help string, v uint64) {
	p.family(name, "counter", help)
	p.uint(name, "", "", v)
}

// gauge writes a family of one unlabelled gauge.
func (p *promWriter) gauge(name, help string, v float64) {
	p.family(name, "gauge", help)
	p.float(name, "", "", v)
}

// writeMetrics writes serve's own families: the build, the Server's
// counters, the path table's, the heap monitor's figures, its
// trend and verdict, the tracked budgets, and the forwarder's. The route store's families
// follow them (see serveMetrics).
func (d *daemon) writeMetrics(p *promWriter) {
	st := d.in.totals()
	paths := d.table.Stats()
	heap := heapwatch.Read()
	report := d.monitor.Report()

	p.family("ingest_build_info", "gauge", "Always 1: the version of the binary and the --instance name.")
	p.buf = append(p.buf[:0], `ingest_build_info{version="`...)
	p.buf = append(p.buf, promLabelValue(d.version)...)
	p.buf = append(p.buf, `",instance="`...)
	p.buf = append(p.buf, promLabelValue(d.instance)...)
	p.buf = append(p.buf, "\"} 1\n"...)
	p.w.Write(p.buf)

	p.counter("ingest_datagrams_total", "Datagrams received.", st.Datagrams)
	p.counter("ingest_bytes_total", "Bytes received from every input: datagrams, TCP and TLS streams, files.", st.Bytes)
	p.counter("ingest_lines_total", "Lines received from every input.", st.Lines)
	p.counter("ingest_parsed_total", "Lines parsed and handled.", st.Parsed)
	p.family("ingest_parse_errors_total", "counter", "Lines that failed to parse, by reason.")
	for reason, n := range st.ParseErrorsByReason() {
		p.uint("ingest_parse_errors_total", "reason", reason, n)
	}
	p.counter("ingest_truncated_total", "Datagrams longer than --max-datagram, not parsed.", st.Truncated)
	p.counter("ingest_handler_panics_total", "Lines whose handler panicked.", st.HandlerPanics)
	p.counter("ingest_read_errors_total", "Socket read errors.", st.ReadErrors)
	p.family("ingest_dropped_total", "counter", "Datagrams dropped, by reason: kernel (receive buffer full), queue_full, source (not allowed), closed (left at stop).")
	p.uint("ingest_dropped_total", "reason", "kernel", st.DroppedKernel)
	p.uint("ingest_dropped_total", "reason", "queue_full", st.DroppedQueueFull)
	p.uint("ingest_dropped_total", "reason", "source", st.DroppedSource)
	p.uint("ingest_dropped_total", "reason", "closed", st.DroppedClosed)
	p.gauge("ingest_receive_buffer_bytes", "Receive buffer the kernel granted per socket; 0 when unknown.", float64(st.ReceiveBuffer))
	d.in.writeMetrics(p, &st)

	p.gauge("ingest_paths", "Paths with an entry of their own in the path table (/top).", float64(paths.Entries))
	p.gauge("ingest_paths_bytes", "Heap bytes of the path table's entries, paths included.", float64(paths.Bytes))
	p.counter("ingest_paths_admitted_total", "Paths given an entry of their own in the path table.", paths.Admitted)
	p.counter("ingest_paths_evicted_total", "Path table entries evicted for hotter paths, their counts moved to <other>.", paths.Evicted)
	p.counter("ingest_paths_other_total", "Requests counted under <other>: paths refused an entry or too long.", paths.Others)
	p.counter("ingest_paths_too_long_total", "Requests whose path is longer than the path table keeps (keyed.DefaultMaxKeyLen bytes).", paths.TooLong)

	p.gauge("ingest_heap_live_bytes", "Live heap after the last GC.", float64(heap.LiveBytes))
	p.gauge("ingest_heap_objects", "Live heap objects after the last GC.", float64(heap.Objects))
	p.gauge("ingest_heap_bytes_per_object", "Live heap bytes per live object.", heap.BytesPerObject())
	p.gauge("ingest_heap_retained_bytes", "Memory the Go runtime holds from the OS, released memory excluded.", float64(heap.Retained()))
	p.gauge("ingest_heap_rss_bytes", "Resident set size.", float64(heap.RSS))
	p.gauge("ingest_heap_goroutines", "Goroutines.", float64(heap.Goroutines))
	p.counter("ingest_heap_gc_cycles_total", "Completed GC cycles.", heap.GCCycles)
	p.gauge("ingest_heap_live_slope_bytes_per_second", "Robust trend of the live heap over the monitor's window.", report.Live.Slope)
	p.gauge("ingest_heap_objects_slope_per_second", "Robust trend of the live objects over the monitor's window.", report.Objects.Slope)
	p.gauge("ingest_heap_retained_slope_bytes_per_second", "Robust trend of the retained memory over the monitor's window.", report.Retained.Slope)
	p.gauge("ingest_heap_rss_slope_bytes_per_second", "Robust trend of the RSS over the monitor's window.", report.RSS.Slope)
	p.family("ingest_heap_growth", "gauge", "1 for the heap monitor's verdict on the kind of growth, 0 for the others.")
	for _, g := range heapwatch.Kinds() {
		v := 0.0
		if report.Growth == g {
			v = 1
		}
		p.float("ingest_heap_growth", "kind", g.String(), v)
	}
	budgets := d.monitor.Budgets()
	p.family("ingest_budget_used_bytes", "gauge", "Estimated heap bytes a bounded structure holds, by name.")
	for _, b := range budgets {
		p.float("ingest_budget_used_bytes", "name", b.Name, float64(b.Bytes))
	}
	p.family("ingest_budget_limit_bytes", "gauge", "Most heap bytes a bounded structure may hold, by name.")
	for _, b := range budgets {
		p.float("ingest_budget_limit_bytes", "name", b.Name, float64(b.LimitBytes))
	}
	p.family("ingest_budget_used_entries", "gauge", "Entries a bounded structure holds, by name.")
	for _, b := range budgets {
		p.float("ingest_budget_used_entries", "name", b.Name, float64(b.Entries))
	}
	p.family("ingest_budget_limit_entries", "gauge", "Most entries a bounded structure may hold, by name.")
	for _, b := range budgets {
		p.float("ingest_budget_limit_entries", "name", b.Name, float64(b.LimitEntries))
	}

	p.gauge("process_resident_memory_bytes", "Resident set size.", float64(heap.RSS))
	p.gauge("process_start_time_seconds", "Start time of the process, in seconds since the Unix epoch.", float64(d.started.UnixNano())/1e9)
	if cpu, ok := processCPU(); ok {
		p.family("process_cpu_seconds_total", "counter", "User and system CPU time.")
		p.float("process_cpu_seconds_total", "", "", cpu.Seconds())
	}
	d.writeForwardMetrics(p)
}
