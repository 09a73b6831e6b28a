package forward

import (
	"io"
	"strconv"
)

// Metric families, in the order WritePrometheus writes them.
const (
	helpRecords  = "# HELP ingest_forward_records_total Records (lines) by sink and result: sent (acknowledged), dropped (lost on this side, see ingest_forward_dropped_total), retried (sent again after a failed attempt; may arrive twice), rejected (refused by the store, not retried).\n# TYPE ingest_forward_records_total counter\n"
	helpDropped  = "# HELP ingest_forward_dropped_total Records dropped by this side, by sink and reason: budget (memory budget full), too_large (record longer than the limit), attempts (retries exhausted), shutdown (in flight at the shutdown deadline), closed (received after shutdown began).\n# TYPE ingest_forward_dropped_total counter\n"
	helpBatches  = "# HELP ingest_forward_batches_total Batches by sink and result: sent (acknowledged), rejected (refused whole), failed_network and failed_status (attempts that failed and were retried).\n# TYPE ingest_forward_batches_total counter\n"
	helpBytes    = "# HELP ingest_forward_bytes_total Bytes of the batches acknowledged, as sent on the wire (compressed), by sink.\n# TYPE ingest_forward_bytes_total counter\n"
	helpRaw      = "# HELP ingest_forward_encoded_bytes_total Bytes of the records encoded, before compression, by sink.\n# TYPE ingest_forward_encoded_bytes_total counter\n"
	helpDuration = "# HELP ingest_forward_send_duration_seconds Time of one attempt at sending a batch, by sink.\n# TYPE ingest_forward_send_duration_seconds histogram\n"
	helpQueued   = "# HELP ingest_forward_queued_batches Batches waiting for a sender or being sent, by sink.\n# TYPE ingest_forward_queued_batches gauge\n"
	helpBudget   = "# HELP ingest_forward_budget_bytes Memory held by the batches in flight.\n# TYPE ingest_forward_budget_bytes gauge\n"
	helpLimit    = "# HELP ingest_forward_budget_limit_bytes The memory budget of the batches in flight.\n# TYPE ingest_forward_budget_limit_bytes gauge\n"
	helpRefused  = "# HELP ingest_forward_budget_refused_total Times a buffer was wanted and the budget had no room.\n# TYPE ingest_forward_budget_refused_total counter\n"
)

// WritePrometheus writes the Forwarder's metrics to w in the Prometheus
// text format (version 0.0.4), each family with # HELP and # TYPE, sinks
// labelled by their URL without credentials or query. It returns the
// error of w.Write. The output is built in one buffer of the Forwarder
// that scrapes reuse (a few KiB per sink); scrapes are serialised.
func (f *Forwarder) WritePrometheus(w io.Writer) error {
	f.promMu.Lock()
	defer f.promMu.Unlock()
	st := f.Stats()
	b := f.promBuf[:0]
	b = append(b, helpRecords...)
	for i := range st.Sinks {
		s := &st.Sinks[i]
		b = sample(b, "ingest_forward_records_total", s.Sink, "result", "sent", s.Sent)
		b = sample(b, "ingest_forward_records_total", s.Sink, "result", "dropped", s.Dropped)
		b = sample(b, "ingest_forward_records_total", s.Sink, "result", "retried", s.Retried)
		b = sample(b, "ingest_forward_records_total", s.Sink, "result", "rejected", s.Rejected)
	}
	b = append(b, helpDropped...)
	for i := range st.Sinks {
		s := &st.Sinks[i]
		for r, v := range [numDrops]uint64{s.DroppedBudget, s.DroppedTooLarge, s.DroppedAttempts, s.DroppedShutdown, s.DroppedClosed} {
			b = sample(b, "ingest_forward_dropped_total", s.Sink, "reason", dropNames[r], v)
		}
	}
	b = append(b, helpBatches...)
	for i := range st.Sinks {
		s := &st.Sinks[i]
		b = sample(b, "ingest_forward_batches_total", s.Sink, "result", "sent", s.Batches)
		b = sample(b, "ingest_forward_batches_total", s.Sink, "result", "rejected", s.BatchesRejected)
		b = sample(b, "ingest_forward_batches_total", s.Sink, "result", "failed_network", s.FailedNetwork)
		b = sample(b, "ingest_forward_batches_total", s.Sink, "result", "failed_status", s.FailedStatus)
	}
	b = append(b, helpBytes...)
	for i := range st.Sinks {
		b = sample(b, "ingest_forward_bytes_total", st.Sinks[i].Sink, "", "", st.Sinks[i].Bytes)
	}
	b = append(b, helpRaw...)
	for i := range st.Sinks {
		b = sample(b, "ingest_forward_encoded_bytes_total", st.Sinks[i].Sink, "", "", st.Sinks[i].RawBytes)
	}
	b = append(b, helpDuration...)
	for _, s := range f.sinks {
		var total uint64
		for i := range s.c.buckets {
			total += s.c.buckets[i].Load()
			b = sample(b, "ingest_forward_send_duration_seconds_bucket", s.name, "le", durationLE[i], total)
		}
		b = append(b, "ingest_forward_send_duration_seconds_sum"...)
		b = appendSinkLabel(b, s.name)
		b = append(b, "} "...)
		b = strconv.AppendFloat(b, float64(s.c.durSum.Load())/1e9, 'g', -1, 64)
		b = append(b, '\n')
		b = sample(b, "ingest_forward_send_duration_seconds_count", s.name, "", "", total)
	}
	b = append(b, helpQueued...)
	for i := range st.Sinks {
		b = sample(b, "ingest_forward_queued_batches", st.Sinks[i].Sink, "", "", uint64(st.Sinks[i].Queued))
	}
	b = append(b, helpBudget...)
	b = append(b, "ingest_forward_budget_bytes "...)
	b = strconv.AppendInt(b, max(st.BudgetBytes, 0), 10)
	b = append(b, '\n')
	b = append(b, helpLimit...)
	b = append(b, "ingest_forward_budget_limit_bytes "...)
	b = strconv.AppendInt(b, st.BudgetLimit, 10)
	b = append(b, '\n')
	b = append(b, helpRefused...)
	b = append(b, "ingest_forward_budget_refused_total "...)
	b = strconv.AppendUint(b, st.BudgetRefused, 10)
	b = append(b, '\n')
	f.promBuf = b
	_, err := w.Write(b)
	return err
}

// sample appends `name{sink="...",label="value"} v`; label may be empty.
func sample(b []byte, name, sink, label, value string, v uint64) []byte {
	b = append(b, name...)
	b = appendSinkLabel(b, sink)
	if label != "" {
		b = append(b, ',')
		b = append(b, label...)
		b = append(b, `="`...)
		b = append(b, value...)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}

// appendSinkLabel appends `{sink="..."` with the value escaped for the
// text format (backslash, quote, newline).
func appendSinkLabel(b []byte, sink string) []byte {
	b = append(b, `{sink="`...)
	for i := 0; i < len(sink); i++ {
		switch c := sink[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
