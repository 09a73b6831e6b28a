package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/flatheap/ingest"
	filetail "github.com/flatheap/ingest/tail"
)

// The families of each input, beside the totals of serve_metrics.go: per
// listener (labels listener and transport) and per tailed pattern (label
// files). Their number is bounded by the flags given.

// labelled writes a sample of name with the labels given as name, value
// pairs (values escaped).
func (p *promWriter) labelled(name string, v uint64, labels ...string) {
	p.buf = append(p.buf[:0], name...)
	p.buf = append(p.buf, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			p.buf = append(p.buf, ',')
		}
		p.buf = append(p.buf, labels[i]...)
		p.buf = append(p.buf, `="`...)
		p.buf = append(p.buf, promLabelValue(labels[i+1])...)
		p.buf = append(p.buf, '"')
	}
	p.buf = append(p.buf, "} "...)
	p.buf = strconv.AppendUint(p.buf, v, 10)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

// listenerFamily is a family with a sample per listener of the kinds it
// applies to; extra, when set, adds a label: one sample per value.
type listenerFamily struct {
	name, typ, help string
	kinds           []string // nil: every listener
	value           func(st *ingest.Stats) uint64
	extra           string // the extra label's name
	extraValues     func(kind string) []string
	extraValue      func(st *ingest.Stats, v string) uint64
}

var streamKinds = []string{kindTCP, kindTLS}

var framingReasons = []string{"too_long", "cut", "bad_count"}

// droppedReasons are the reasons a listener of kind drops: a unix socket's
// senders have no address, and TCP and TLS connections have no queue of
// datagrams for the kernel or serve to drop from.
func droppedReasons(kind string) []string {
	switch kind {
	case kindUDP:
		return []string{"kernel", "queue_full", "source", "closed"}
	case kindUnix:
		return []string{"kernel", "queue_full", "closed"}
	}
	return []string{"source", "closed"}
}

var listenerFamilies = []listenerFamily{
	{name: "ingest_listener_datagrams_total", typ: "counter", help: "Datagrams received, per listener (UDP and unix).",
		kinds: []string{kindUDP, kindUnix}, value: func(st *ingest.Stats) uint64 { return st.Datagrams }},
	{name: "ingest_listener_bytes_total", typ: "counter", help: "Bytes received, per listener: datagrams, or what TCP and TLS connections carried (after TLS).",
		value: func(st *ingest.Stats) uint64 { return st.Bytes }},
	{name: "ingest_listener_lines_total", typ: "counter", help: "Lines received, per listener.",
		value: func(st *ingest.Stats) uint64 { return st.Lines }},
	{name: "ingest_listener_parsed_total", typ: "counter", help: "Lines parsed and handled, per listener.",
		value: func(st *ingest.Stats) uint64 { return st.Parsed }},
	{name: "ingest_listener_parse_errors_total", typ: "counter", help: "Lines that failed to parse, per listener (ingest_parse_errors_total has the reasons).",
		value: func(st *ingest.Stats) uint64 { return st.ParseErrors }},
	{name: "ingest_listener_dropped_total", typ: "counter", help: "Datagrams dropped, per listener and reason: kernel (receive buffer full), queue_full, source (not allowed; TCP and TLS: connections), closed (left at stop; TCP and TLS: frames).",
		extra: "reason", extraValues: droppedReasons,
		extraValue: func(st *ingest.Stats, r string) uint64 {
			switch r {
			case "kernel":
				return st.DroppedKernel
			case "queue_full":
				return st.DroppedQueueFull
			case "source":
				return st.DroppedSource
			}
			return st.DroppedClosed
		}},
	{name: "ingest_listener_connections", typ: "gauge", help: "TCP and TLS connections open now, per listener.",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return uint64(st.Connections) }},
	{name: "ingest_listener_connections_opened_total", typ: "counter", help: "TCP and TLS connections taken on (TLS: before the handshake), per listener.",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.ConnectionsOpened }},
	{name: "ingest_listener_connections_closed_total", typ: "counter", help: "TCP and TLS connections that ended, for whatever reason, per listener.",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.ConnectionsClosed }},
	{name: "ingest_listener_connections_refused_total", typ: "counter", help: "TCP and TLS connections closed at once: --max-connections were open, or serve was stopping.",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.ConnectionsRefused }},
	{name: "ingest_listener_connections_idle_total", typ: "counter", help: "TCP and TLS connections closed because nothing came for the idle timeout (10 minutes).",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.ConnectionsIdle }},
	{name: "ingest_listener_frames_total", typ: "counter", help: "Syslog frames read whole from TCP and TLS connections, per listener.",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.Frames }},
	{name: "ingest_listener_framing_errors_total", typ: "counter", help: "TCP and TLS frames not read whole, per listener and reason: too_long (over 64 KiB, skipped), cut (the connection ended inside it), bad_count (an octet count of 0).",
		kinds: streamKinds, extra: "reason", extraValues: func(string) []string { return framingReasons },
		extraValue: func(st *ingest.Stats, r string) uint64 {
			switch r {
			case "too_long":
				return st.FramesTooLong
			case "cut":
				return st.FramesCut
			}
			return st.FramingErrors
		}},
	{name: "ingest_listener_unread_bytes_total", typ: "counter", help: "Bytes TCP and TLS connections had sent that were left unread when serve closed them (at stop, after a read error or a failed handshake).",
		kinds: streamKinds, value: func(st *ingest.Stats) uint64 { return st.BytesUnread }},
	{name: "ingest_listener_tls_handshake_errors_total", typ: "counter", help: "TLS handshakes that failed or timed out, per listener.",
		kinds: []string{kindTLS}, value: func(st *ingest.Stats) uint64 { return st.TLSHandshakeErrors }},
	{name: "ingest_listener_tls_cert_reloads_total", typ: "counter", help: "Times the --tls-cert, --tls-key or --tls-client-ca files changed and were loaded.",
		kinds: []string{kindTLS}, value: func(st *ingest.Stats) uint64 { return st.TLSCertReloads }},
	{name: "ingest_listener_tls_cert_errors_total", typ: "counter", help: "Times the TLS files changed and did not load; the ones loaded before stay in use.",
		kinds: []string{kindTLS}, value: func(st *ingest.Stats) uint64 { return st.TLSCertErrors }},
}

// tailFamily is a family with a sample per --tail.
type tailFamily struct {
	name, typ, help string
	value           func(st *filetail.Stats) uint64
}

var tailFamilies = []tailFamily{
	{"ingest_tail_bytes_total", "counter", "Bytes read from the files, per --tail pattern.", func(st *filetail.Stats) uint64 { return st.Bytes }},
	{"ingest_tail_lines_total", "counter", "Lines read from the files, per --tail pattern.", func(st *filetail.Stats) uint64 { return st.Lines }},
	{"ingest_tail_parsed_total", "counter", "Lines parsed and handled, per --tail pattern.", func(st *filetail.Stats) uint64 { return st.Parsed }},
	{"ingest_tail_parse_errors_total", "counter", "Lines that failed to parse, per --tail pattern (ingest_parse_errors_total has the reasons).", func(st *filetail.Stats) uint64 { return st.ParseErrors }},
	{"ingest_tail_rotations_total", "counter", "Files that left their name (renamed or removed) while followed, and were read to their end.", func(st *filetail.Stats) uint64 { return st.Rotations }},
	{"ingest_tail_truncations_total", "counter", "Files found truncated (copytruncate) and read again from their start.", func(st *filetail.Stats) uint64 { return st.Truncations }},
	{"ingest_tail_copies_read_total", "counter", "Copies of truncated files found and read from where the file was left.", func(st *filetail.Stats) uint64 { return st.CopiesRead }},
	{"ingest_tail_skipped_read_total", "counter", "Files rotated away before they were seen at their name, found beside it and read.", func(st *filetail.Stats) uint64 { return st.SkippedRead }},
	{"ingest_tail_lost_bytes_total", "counter", "Bytes known to have been written and never read (a truncated file whose copy was not found).", func(st *filetail.Stats) uint64 { return st.LostBytes }},
	{"ingest_tail_files_missing_total", "counter", "Files the checkpoint had not finished that were not found at start: their rest is lost.", func(st *filetail.Stats) uint64 { return st.FilesMissing }},
	{"ingest_tail_files_refused_total", "counter", "Files not followed because the most files were open.", func(st *filetail.Stats) uint64 { return st.FilesRefused }},
	{"ingest_tail_read_errors_total", "counter", "Failed opens, stats and reads of files.", func(st *filetail.Stats) uint64 { return st.ReadErrors }},
	{"ingest_tail_checkpoints_total", "counter", "Checkpoints written into --state-dir.", func(st *filetail.Stats) uint64 { return st.Checkpoints }},
	{"ingest_tail_checkpoint_errors_total", "counter", "Checkpoint writes that failed (the next is tried a second later).", func(st *filetail.Stats) uint64 { return st.CheckpointErrors }},
	{"ingest_tail_files", "gauge", "Files open: followed, and rotated ones being finished.", func(st *filetail.Stats) uint64 { return uint64(st.Files) }},
}

// writeMetrics writes the families of each input, from the snapshot st
// (see totals).
func (in *inputs) writeMetrics(p *promWriter, st *totals) {
	stats := st.listeners
	for i := range listenerFamilies {
		f := &listenerFamilies[i]
		header := false
		for j, l := range in.listeners {
			if f.kinds != nil && !slices.Contains(f.kinds, l.spec.kind) {
				continue
			}
			if !header {
				p.family(f.name, f.typ, f.help)
				header = true
			}
			if f.extra == "" {
				p.labelled(f.name, f.value(&stats[j]), "listener", l.bound, "transport", l.spec.kind)
				continue
			}
			for _, v := range f.extraValues(l.spec.kind) {
				p.labelled(f.name, f.extraValue(&stats[j], v), "listener", l.bound, "transport", l.spec.kind, f.extra, v)
			}
		}
	}
	if len(in.tailers) == 0 {
		return
	}
	tstats := st.tailers
	for _, f := range tailFamilies {
		p.family(f.name, f.typ, f.help)
		for i, ti := range in.tailers {
			p.labelled(f.name, f.value(&tstats[i]), "files", ti.pattern)
		}
	}
}

// printFinal writes one line per input after the totals: "listener", the
// transport and the address, or "tail" and the pattern, then its counts
// as name value pairs.
func (in *inputs) printFinal(w io.Writer) {
	for _, l := range in.listeners {
		st := l.srv.Stats()
		fmt.Fprintf(w, "listener %s %s bytes %d lines %d parsed %d parse_errors %d", l.spec.kind, l.bound,
			st.Bytes, st.Lines, st.Parsed, st.ParseErrors)
		switch l.spec.kind {
		case kindUDP, kindUnix:
			fmt.Fprintf(w, " datagrams %d truncated %d dropped_kernel %d dropped_queue_full %d dropped_source %d dropped_closed %d",
				st.Datagrams, st.Truncated, st.DroppedKernel, st.DroppedQueueFull, st.DroppedSource, st.DroppedClosed)
		default:
			fmt.Fprintf(w, " connections_opened %d connections_refused %d frames %d frames_too_long %d frames_cut %d framing_errors %d unread_bytes %d dropped_source %d dropped_closed %d",
				st.ConnectionsOpened, st.ConnectionsRefused, st.Frames, st.FramesTooLong, st.FramesCut, st.FramingErrors,
				st.BytesUnread, st.DroppedSource, st.DroppedClosed)
		}
		if l.spec.kind == kindTLS {
			fmt.Fprintf(w, " tls_handshake_errors %d", st.TLSHandshakeErrors)
		}
		fmt.Fprintln(w)
	}
	for _, ti := range in.tailers {
		st := ti.t.Stats()
		fmt.Fprintf(w, "tail %s bytes %d lines %d parsed %d parse_errors %d rotations %d truncations %d lost_bytes %d files_missing %d checkpoints %d checkpoint_errors %d\n",
			ti.pattern, st.Bytes, st.Lines, st.Parsed, st.ParseErrors, st.Rotations, st.Truncations, st.LostBytes,
			st.FilesMissing, st.Checkpoints, st.CheckpointErrors)
	}
}
