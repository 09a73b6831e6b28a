package forward

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaSink produces a sealed batch's lines as Kafka records with
// franz-go: KafkaLinesPerRecord lines per record, each record's value a
// view into the batch buffer, which is freed when the last record of the
// batch is acknowledged or failed. The producer retries on its own
// (idempotently: a retried record is written once per partition) and
// compresses with zstd.
type kafkaSink struct {
	s       *sink
	cl      *kgo.Client
	lines   int
	promise func(*kgo.Record, error)
}

// krec is a pooled Kafka record and what its promise needs. The Record
// comes first: the promise gets the *kgo.Record and finds its krec at the
// same address.
type krec struct {
	kgo.Record
	b     *batch
	lines int
}

var krecPool = sync.Pool{New: func() any { return new(krec) }}

func newKafkaSink(s *sink, rest string) (*kafkaSink, error) {
	raw := "kafka://" + rest
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	hosts, topic, ok := strings.Cut(rest, "/")
	if strings.Contains(hosts, "@") {
		// Its name, on every metric, would show them.
		return nil, configError("sink URL", redact(raw), "a kafka URL takes no credentials")
	}
	if !ok || topic == "" || strings.Contains(topic, "/") || hosts == "" {
		return nil, configError("sink URL", raw, "want kafka://broker1:9092,broker2:9092/TOPIC")
	}
	brokers := strings.Split(hosts, ",")
	for _, b := range brokers {
		if b == "" {
			return nil, configError("sink URL", raw, "empty broker address")
		}
	}
	f := s.f
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.MaxBufferedRecords(f.opt.KafkaMaxBufferedRecords),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(1<<20),
		// After a broker goes away, its partitions' records wait for new
		// metadata; franz-go asks at most once per MetadataMinAge (5 s by
		// default), which held Shutdown's flush for seconds after a
		// broker restart in TestKafka.
		kgo.MetadataMinAge(time.Second),
		kgo.RetryBackoffFn(func(n int) time.Duration {
			return min(f.opt.MaxBackoff, f.opt.MinBackoff<<min(n, 30))
		}),
	)
	if err != nil {
		return nil, configError("sink URL", raw, err.Error())
	}
	k := &kafkaSink{s: s, cl: cl, lines: f.opt.KafkaLinesPerRecord}
	k.promise = k.done
	return k, nil
}

// produce hands b's lines to the producer. Called outside the shard
// lock; it never blocks: when the producer is full the records fail at
// once with kgo.ErrMaxBuffered and are counted (reason budget).
func (k *kafkaSink) produce(b *batch) {
	f := k.s.f
	if !f.charge(b, minBatchCharge) {
		return
	}
	// One count for the loop below, so that the batch outlives the
	// records it hands over even if they are acknowledged at once.
	b.pending.Store(1)
	raw := b.raw
	for len(raw) > 0 {
		end, lines := 0, 0
		for lines < k.lines && end < len(raw) {
			next := len(raw)
			if i := bytes.IndexByte(raw[end:], '\n'); i >= 0 {
				next = end + i + 1
			}
			if lines > 0 && next-1 > maxKafkaValue {
				break // a record no longer than the producer takes
			}
			end, lines = next, lines+1
		}
		kr := krecPool.Get().(*krec)
		kr.b, kr.lines = b, lines
		// The value without its last '\n'.
		kr.Value = raw[: end-1 : end-1]
		raw = raw[end:]
		b.pending.Add(1)
		k.cl.TryProduce(f.sendCtx, &kr.Record, k.promise)
	}
	k.release(b)
}

// maxKafkaValue bounds the value of a Kafka record of several lines: the
// producer refuses a record longer than its batch (ProducerBatchMaxBytes,
// 1 MiB), and a line alone may be up to MaxRecordBytes.
const maxKafkaValue = 1<<20 - 4<<10

// release drops one count of b's pending records, and frees b after the
// last.
func (k *kafkaSink) release(b *batch) {
	if b.pending.Add(-1) == 0 {
		k.s.queued.Add(-1)
		k.s.f.free(b)
	}
}

// done is the promise of every record: it counts the record's lines and
// frees the batch after its last record.
func (k *kafkaSink) done(r *kgo.Record, err error) {
	kr := (*krec)(unsafe.Pointer(r))
	b, lines, size := kr.b, uint64(kr.lines), len(r.Value)
	s := k.s
	switch {
	case err == nil:
		s.c.sent.Add(lines)
		s.c.batches.Add(1)
		s.c.bytes.Add(uint64(size))
	case errors.Is(err, kgo.ErrMaxBuffered):
		s.c.dropped[dropBudget].Add(lines)
	case errors.Is(err, kerr.MessageTooLarge):
		s.c.dropped[dropTooLarge].Add(lines)
	case errors.Is(err, kgo.ErrAborting), errors.Is(err, kgo.ErrClientClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.c.dropped[dropShutdown].Add(lines)
	default:
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			s.c.rejected.Add(lines)
			s.c.batchesRejected.Add(1)
			s.logRefusal("the broker refused records", slog.Uint64("records", lines), slog.String("error", err.Error()))
		} else {
			s.c.dropped[dropAttempts].Add(lines)
			s.logRefusal("cannot produce records", slog.Uint64("records", lines), slog.String("error", err.Error()))
		}
	}
	kr.Record = kgo.Record{}
	kr.b = nil
	krecPool.Put(kr)
	k.release(b)
}

// flush waits until every record is acknowledged or, once Shutdown's
// deadline passed, fails what is left.
func (k *kafkaSink) flush() {
	f := k.s.f
	if err := k.cl.Flush(f.sendCtx); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k.cl.AbortBufferedRecords(ctx)
}

func (k *kafkaSink) close() { k.cl.Close() }
