package forward

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/flatheap/ingest/route"
)

// Defaults of Options.
const (
	// DefaultMaxBytes is Options.MaxBytes when it is zero: everything in
	// flight, across sinks, holds at most this much.
	DefaultMaxBytes = 64 << 20
	// DefaultBatchBytes is Options.BatchBytes when it is zero.
	DefaultBatchBytes = 1 << 20
	// DefaultFlushInterval is Options.FlushInterval when it is zero.
	DefaultFlushInterval = time.Second
	// DefaultSenders is Options.Senders when it is zero.
	DefaultSenders = 2
	// DefaultTimeout is Options.Timeout when it is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between two
	// attempts at a batch when Options leaves them zero.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
	// DefaultMaxRecordBytes is Options.MaxRecordBytes when it is zero; it
	// is also VictoriaLogs' default -insert.maxLineSizeBytes.
	DefaultMaxRecordBytes = 256 << 10
	// DefaultKafkaLinesPerRecord is Options.KafkaLinesPerRecord when it is
	// zero.
	DefaultKafkaLinesPerRecord = 1

	// minBatchCharge is the least a queued batch is charged against the
	// budget: its struct, its slot in the queue and its buffer headers,
	// rounded up. It also bounds the number of batches the budget can
	// hold, which sizes each sink's queue.
	minBatchCharge = 4 << 10
	// minMaxBytes is the smallest budget accepted.
	minMaxBytes = 64 << 10
	// maxShards bounds the number of open batches per sink.
	maxShards = 8
)

// TimeFormat is how a record's time is written.
type TimeFormat uint8

const (
	// TimeRFC3339 writes the time as an RFC 3339 string with as many
	// fraction digits as it needs (up to nanoseconds) and the line's own
	// UTC offset ("Z" for UTC): "2026-10-10T13:55:36.123+02:00".
	TimeRFC3339 TimeFormat = iota
	// TimeUnixNano writes nanoseconds since the Unix epoch as a JSON
	// number. The es sink always writes RFC 3339, which Elasticsearch's
	// default date parsing reads; VictoriaLogs reads both.
	TimeUnixNano
)

// Field is a static field added to every record, such as the instance
// name.
type Field struct {
	Name, Value string
}

// ParseField parses "name=value" into a Field, as a command-line flag
// gives it. The name must not be empty.
func ParseField(s string) (Field, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return Field{}, configError("Static", s, `want "name=value"`)
	}
	return Field{Name: k, Value: v}, nil
}

// Options configures a Forwarder. The zero value of every field selects
// the default given in its comment.
type Options struct {
	// Fields lists the fields of each record by name, in any order (they
	// are written in the order of AllFields, then the format's variables
	// in the format's order). nil means every field of AllFields and every
	// extra variable of the line's format (Request.Vars). A name that is
	// not in AllFields is taken as the name of an extra variable.
	// "time" and "msg" are written under the sink's own keys: _time and
	// _msg for jsonline, @timestamp and message for es, time and message
	// for kafka.
	Fields []string
	// Static fields are added to every record after the others, in the
	// order given. A name must not be empty nor repeat a field of the
	// record.
	Static []Field
	// Routes turns a line's method and path into its route field. nil
	// means a Templater of route.New(route.Config{}).
	Routes *route.Templater
	// VHost is the vhost field of a line that logged no $host. Empty: the
	// field is left out for such lines.
	VHost string
	// StreamFields are VictoriaLogs' _stream_fields for jsonline sinks
	// whose URL does not set them. nil means vhost and route. Stream
	// fields should have few distinct values.
	StreamFields []string
	// Time is how the time field is written; the es sink always writes
	// TimeRFC3339.
	Time TimeFormat

	// MaxBytes is the memory budget for everything in flight across all
	// sinks: open batches, batches queued, being sent or waiting to be
	// retried. Default DefaultMaxBytes (64 MiB); at least 64 KiB. When it
	// is full, records are dropped and counted, or with Block the caller
	// waits.
	MaxBytes int64
	// Block makes ServeLine wait for room in the budget instead of
	// dropping the record. A sink that stays down then stalls the
	// Server's readers, and the kernel drops datagrams instead.
	Block bool
	// BatchBytes is the size of a batch's buffer: a batch is sent when
	// its next record might not fit. Default DefaultBatchBytes (1 MiB).
	// A sink holds up to one open batch per shard (the number of CPUs,
	// rounded up to a power of two, at most 8).
	BatchBytes int
	// MaxRecordBytes bounds one encoded record; a longer one is dropped
	// and counted (reason too_large). Default DefaultMaxRecordBytes
	// (256 KiB); at most BatchBytes.
	MaxRecordBytes int
	// FlushInterval is the longest a record waits in an open batch.
	// Default DefaultFlushInterval (1 s).
	FlushInterval time.Duration
	// Compression is "gzip", "zstd" or "none" for HTTP sinks whose URL
	// has no compress= parameter. Empty: gzip, which costs less CPU per
	// line than zstd for access lines (BenchmarkCompress, see
	// docs/forward.md).
	// Kafka sinks compress with the producer's own codec (zstd).
	Compression string

	// Senders is the number of requests in flight per HTTP sink. Default
	// DefaultSenders (2).
	Senders int
	// Timeout bounds one HTTP request. Default DefaultTimeout (10 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a batch:
	// it doubles from MinBackoff up to MaxBackoff, with up to half of it
	// random. Defaults DefaultMinBackoff (100 ms), DefaultMaxBackoff (2 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is the most attempts at one batch before it is dropped
	// (reason attempts). 0: no limit; a batch is retried until it is
	// sent, refused, or Shutdown's deadline passes.
	MaxAttempts int
	// Client sends the HTTP requests. nil: a client of its own with
	// Timeout.
	Client *http.Client

	// KafkaLinesPerRecord is how many lines one Kafka record holds at
	// most, one JSON object per line, '\n' between them: fewer when the
	// record would pass 1 MiB less 4 KiB, which the producer refuses.
	// Default 1, one event per record as most consumers expect; 16 cost
	// 16-30% less CPU per line in BenchmarkKafka.
	KafkaLinesPerRecord int
	// KafkaMaxBufferedRecords bounds the records the Kafka producer
	// buffers (kgo.MaxBufferedRecords). Default: MaxBytes / 256.
	KafkaMaxBufferedRecords int

	// Logger receives refused records (at most one line a second per
	// sink) and sink errors. nil: slog.Default().
	Logger *slog.Logger

	// shards overrides the number of shards (benchmarks compare 1 with
	// the default).
	shards int
}

// ErrConfig is wrapped by every error New returns for a bad Options field
// or sink URL.
var ErrConfig = errors.New("forward: bad configuration")

// ConfigError is a bad Options field or sink URL: which, the value, and
// what is wrong. It wraps ErrConfig.
type ConfigError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "forward: " + e.Field + " " + quote(e.Value) + ": " + e.Reason
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func configError(field, value, reason string) *ConfigError {
	return &ConfigError{Field: field, Value: value, Reason: reason}
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return `"` + s + `"`
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < minMaxBytes {
		return o, configError("MaxBytes", itoa(o.MaxBytes), "must be at least 65536")
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.BatchBytes < 4<<10 || int64(o.BatchBytes) > o.MaxBytes/4 {
		return o, configError("BatchBytes", itoa(int64(o.BatchBytes)), "must be from 4 KiB to a quarter of MaxBytes")
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = min(DefaultMaxRecordBytes, o.BatchBytes)
	}
	if o.MaxRecordBytes < 256 || o.MaxRecordBytes > o.BatchBytes {
		return o, configError("MaxRecordBytes", itoa(int64(o.MaxRecordBytes)), "must be from 256 to BatchBytes")
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.FlushInterval < time.Millisecond {
		return o, configError("FlushInterval", o.FlushInterval.String(), "must be at least 1ms")
	}
	switch o.Compression {
	case "", "gzip", "zstd", "none":
	default:
		return o, configError("Compression", o.Compression, "want gzip, zstd or none")
	}
	if o.Senders == 0 {
		o.Senders = DefaultSenders
	}
	if o.Senders < 1 || o.Senders > 64 {
		return o, configError("Senders", itoa(int64(o.Senders)), "must be from 1 to 64")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.Timeout < 0 || o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff {
		return o, configError("MaxBackoff", o.MaxBackoff.String(), "Timeout and MinBackoff must not be negative, MaxBackoff not below MinBackoff")
	}
	if o.MaxAttempts < 0 {
		return o, configError("MaxAttempts", itoa(int64(o.MaxAttempts)), "must not be negative")
	}
	if o.KafkaLinesPerRecord == 0 {
		o.KafkaLinesPerRecord = DefaultKafkaLinesPerRecord
	}
	if o.KafkaLinesPerRecord < 1 || o.KafkaLinesPerRecord > 10000 {
		return o, configError("KafkaLinesPerRecord", itoa(int64(o.KafkaLinesPerRecord)), "must be from 1 to 10000")
	}
	if o.KafkaMaxBufferedRecords == 0 {
		o.KafkaMaxBufferedRecords = int(max(o.MaxBytes/256, 1024))
	}
	if o.Time > TimeUnixNano {
		return o, configError("Time", itoa(int64(o.Time)), "unknown time format")
	}
	if o.StreamFields == nil {
		o.StreamFields = []string{"vhost", "route"}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Routes == nil {
		t, err := route.New(route.Config{})
		if err != nil {
			return o, err
		}
		o.Routes = t
	}
	return o, nil
}
