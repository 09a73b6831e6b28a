package forward

import (
	"context"
	"errors"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
)

// maxSinks bounds the sinks of one Forwarder.
const maxSinks = 8

// Forwarder is an ingest.Handler that encodes every line it is given into
// a record and ships the records in batches to one or more sinks (a log
// store or a Kafka topic), under one memory budget. Build it with New,
// hand it to a Server as its Handler, stop it with Shutdown.
//
// Every sink gets every record. Records are encoded straight from the
// Request's views into reused batch buffers: ServeLine costs no
// allocation per record once its buffers exist, and retains neither the
// Request nor any slice in it.
type Forwarder struct {
	opt    Options
	sel    *selection
	sinks  []*sink
	shards []shard
	shift  uint // 64 - log2(len(shards))

	budget budget
	raw    rawPool

	closed    atomic.Bool
	sendCtx   context.Context // canceled when Shutdown's deadline passes
	cancel    context.CancelFunc
	stopFlush chan struct{}
	flushDone chan struct{}
	senders   sync.WaitGroup
	done      chan struct{} // closed when every goroutine has returned

	promMu  sync.Mutex
	promBuf []byte // WritePrometheus's buffer, under promMu
}

// shard is one open batch per sink and the encoder that fills them,
// under one lock. Lines are spread over the shards by the address of the
// Request they come in: a Server's reader keeps its Request, so each
// reader keeps to its shard.
type shard struct {
	mu   sync.Mutex
	enc  *encoder
	open [maxSinks]*batch
	// sealing counts the batches taken from this shard and not yet handed
	// to their sink.
	sealing sync.WaitGroup
	_       [64]byte // keep shards' locks on their own cache lines
}

// batch is a batch of records for one sink.
type batch struct {
	s       *sink
	raw     []byte // the records, encoded; nil once compressed
	wire    []byte // the compressed body; nil when raw is the body
	records int
	charge  int64 // charged to the budget besides raw
	opened  time.Time
	pending atomic.Int32 // kafka: records not yet acknowledged
	failed  atomic.Bool  // kafka: a record of it failed
}

// body returns what goes on the wire.
func (b *batch) body() []byte {
	if b.wire != nil {
		return b.wire
	}
	return b.raw
}

// New returns a Forwarder that sends to each of urls, started: its
// senders run until Shutdown. A URL is one of
//
//	jsonline+http://host:9428/insert/jsonline     VictoriaLogs JSON lines
//	es+http://host:9200/INDEX                     Elasticsearch/OpenSearch _bulk
//	kafka://broker1:9092,broker2:9092/TOPIC       Kafka
//
// with https in place of http for TLS, user:password@ before the host for
// basic authentication, and a query that is sent along (for es and
// jsonline), less compress=gzip|zstd|none which chooses the sink's
// compression. Errors wrap ErrConfig and name the URL or field at fault.
func New(urls []string, opt Options) (*Forwarder, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(urls) == 0 || len(urls) > maxSinks {
		return nil, configError("urls", itoa(int64(len(urls))), "want 1 to 8 sink URLs")
	}
	sel, err := newSelection(&o)
	if err != nil {
		return nil, err
	}
	n := o.shards
	if n <= 0 {
		n = min(1<<bits.Len(uint(runtime.GOMAXPROCS(0)-1)), maxShards)
	}
	if n&(n-1) != 0 || n > maxShards {
		return nil, configError("shards", itoa(int64(n)), "must be a power of two up to 8")
	}
	f := &Forwarder{
		opt:       o,
		sel:       sel,
		shards:    make([]shard, n),
		shift:     uint(64 - bits.Len(uint(n-1))),
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
		done:      make(chan struct{}),
	}
	f.budget.init(o.MaxBytes)
	f.raw = rawPool{size: o.BatchBytes, keep: 2 * n * len(urls), b: &f.budget}
	for i := range f.shards {
		f.shards[i].enc = newEncoder(sel, &o)
	}
	f.sendCtx, f.cancel = context.WithCancel(context.Background())
	for _, u := range urls {
		s, err := newSink(f, u)
		for _, o := range f.sinks {
			if err == nil && o.name == s.name {
				// Their metrics would be one series twice.
				s.close()
				err = configError("sink URL", redact(u), "the same sink as "+s.name+" before it: sinks must differ in more than their query")
			}
		}
		if err != nil {
			for _, s := range f.sinks {
				s.close()
			}
			f.cancel()
			return nil, err
		}
		f.sinks = append(f.sinks, s)
	}
	for _, s := range f.sinks {
		s.start()
	}
	go f.flushLoop()
	return f, nil
}

var _ ingest.Handler = (*Forwarder)(nil)

// ServeLine encodes r into a record for every sink, so that a Forwarder
// is an ingest.Handler. It is safe for concurrent use. It retains neither
// r nor any slice in it, and costs no allocation once its batch buffers
// exist: a record is encoded into an open batch under the lock of one of
// a few shards, chosen by r's address.
//
// When a batch is full ServeLine seals it, and compresses it for the
// sinks that compress, on the caller's goroutine, outside the lock. When
// the budget is full the record is dropped and counted (reason budget),
// or with Options.Block ServeLine waits for room. After Shutdown began,
// records are dropped (reason closed).
func (f *Forwarder) ServeLine(r *ingest.Request) {
	sh := &f.shards[(uint64(uintptr(unsafe.Pointer(r)))>>4*0x9E3779B97F4A7C15)>>f.shift]
	var sealed [maxSinks]*batch
	var spare []byte
	n := 0
	sh.mu.Lock()
	sh.enc.begin(r)
	for i, s := range f.sinks {
		for {
			if f.closed.Load() {
				s.c.dropped[dropClosed].Add(1)
				break
			}
			b, need := f.add(sh, i, s, r, &spare)
			if b != nil {
				sealed[n] = b
				n++
			}
			if !need {
				break
			}
			// Block: wait for a buffer without holding the shard.
			sh.mu.Unlock()
			spare = f.raw.get(true)
			sh.mu.Lock()
			sh.enc.begin(r) // another line may have used the encoder
			if spare == nil {
				s.c.dropped[dropClosed].Add(1)
				break
			}
		}
	}
	sh.enc.end()
	sh.mu.Unlock()
	if spare != nil {
		f.raw.put(spare)
	}
	for _, b := range sealed[:n] {
		f.ship(b)
		sh.sealing.Done()
	}
}

// add encodes r into the open batch of sink i in sh, under sh.mu, after
// sh.enc.begin(r). It returns the batch it sealed to make room, if any,
// and need when it found no buffer and the caller is to wait for one
// (Block).
//
// A record whose bound exceeds a whole batch buffer is encoded into a
// scratch buffer of its own first, and copied in when it is short enough.
// Only lines of tens of KiB take this path (the bound counts a line of up
// to 16 KiB at little more than its record's length).
func (f *Forwarder) add(sh *shard, i int, s *sink, r *ingest.Request, spare *[]byte) (sealed *batch, need bool) {
	enc := sh.enc
	b := sh.open[i]
	bound := enc.looseBound(&s.wire)
	if bound > f.opt.BatchBytes || b != nil && cap(b.raw)-len(b.raw) < bound {
		bound = enc.bound(r, &s.wire)
	}
	var large []byte
	if bound > f.opt.BatchBytes {
		large = enc.record(make([]byte, 0, bound), r, &s.wire)
		if len(large) > f.opt.MaxRecordBytes {
			s.c.dropped[dropTooLarge].Add(1)
			return nil, false
		}
		bound = len(large)
	}
	if b != nil && cap(b.raw)-len(b.raw) < bound {
		sealed = f.seal(sh, i)
		b = nil
	}
	if b == nil {
		if b = f.openBatch(sh, i, s, spare); b == nil {
			if f.opt.Block {
				return sealed, true
			}
			s.c.dropped[dropBudget].Add(1)
			return sealed, false
		}
	}
	if large != nil {
		b.raw = append(b.raw, large...)
		b.records++
		return sealed, false
	}
	before := len(b.raw)
	b.raw = enc.record(b.raw, r, &s.wire)
	if len(b.raw)-before > f.opt.MaxRecordBytes {
		b.raw = b.raw[:before]
		s.c.dropped[dropTooLarge].Add(1)
		return sealed, false
	}
	b.records++
	return sealed, false
}

// openBatch opens a batch for sink i in sh with a buffer from spare or the
// pool; nil when the budget has no room.
func (f *Forwarder) openBatch(sh *shard, i int, s *sink, spare *[]byte) *batch {
	raw := *spare
	*spare = nil
	if raw == nil {
		if raw = f.raw.get(false); raw == nil {
			return nil
		}
	}
	b := &batch{s: s, raw: raw, opened: time.Now()}
	sh.open[i] = b
	return b
}

// seal takes the open batch of sink i from sh, under sh.mu; nil when it
// holds no record (its buffer goes back to the pool).
func (f *Forwarder) seal(sh *shard, i int) *batch {
	b := sh.open[i]
	sh.open[i] = nil
	if b == nil {
		return nil
	}
	if b.records == 0 {
		f.raw.put(b.raw)
		return nil
	}
	sh.sealing.Add(1)
	return b
}

// ship hands a sealed batch to its sink: compressed, charged and queued
// for a sender, or produced to Kafka. Called outside the shard lock.
func (f *Forwarder) ship(b *batch) {
	s := b.s
	s.c.rawBytes.Add(uint64(len(b.raw)))
	if s.kafka != nil {
		s.kafka.produce(b)
		return
	}
	if s.codec != codecNone {
		w := s.codec.compress(b.raw)
		if len(w) < len(b.raw) {
			f.raw.put(b.raw)
			b.raw, b.wire = nil, w
		} else {
			s.codec.free(w)
		}
	}
	if !f.charge(b, int64(minBatchCharge+cap(b.wire))) {
		return
	}
	select {
	case s.queue <- b:
	default: // cannot happen: the budget bounds the batches to the queue's capacity
		s.queued.Add(-1)
		s.c.dropped[dropBudget].Add(uint64(b.records))
		f.free(b)
	}
}

// charge takes n bytes from the budget for the sealed batch b, waiting
// for them with Block, and counts it queued; when there is no room, b's
// records are dropped (reason budget), b is freed and charge returns
// false.
func (f *Forwarder) charge(b *batch, n int64) bool {
	s := b.s
	ok := f.budget.reserve(n)
	if !ok && f.opt.Block {
		ok = f.budget.wait(n)
	}
	if !ok {
		f.budget.refused.Add(1)
		s.c.dropped[dropBudget].Add(uint64(b.records))
		f.free(b)
		return false
	}
	b.charge = n
	s.queued.Add(1)
	return true
}

// free gives back what b holds.
func (f *Forwarder) free(b *batch) {
	if b.raw != nil {
		f.raw.put(b.raw)
		b.raw = nil
	}
	if b.wire != nil {
		b.s.codec.free(b.wire)
		b.wire = nil
	}
	f.budget.release(b.charge)
	b.charge = 0
}

// Flush seals every open batch and hands it to its sink now, without
// waiting for the batch to fill or for FlushInterval. It does not wait
// for the batches to be sent.
func (f *Forwarder) Flush() { f.sealOlder(time.Time{}) }

// sealOlder seals and ships the open batches opened before t, every one
// when t is zero.
func (f *Forwarder) sealOlder(t time.Time) {
	for k := range f.shards {
		sh := &f.shards[k]
		var sealed [maxSinks]*batch
		n := 0
		sh.mu.Lock()
		for i := range f.sinks {
			if b := sh.open[i]; b != nil && (t.IsZero() || b.opened.Before(t)) {
				if b = f.seal(sh, i); b != nil {
					sealed[n] = b
					n++
				}
			}
		}
		sh.mu.Unlock()
		for _, b := range sealed[:n] {
			f.ship(b)
			sh.sealing.Done()
		}
	}
}

// flushLoop seals batches that have been open for FlushInterval.
func (f *Forwarder) flushLoop() {
	defer close(f.flushDone)
	half := f.opt.FlushInterval / 2
	t := time.NewTicker(half)
	defer t.Stop()
	for {
		select {
		case <-f.stopFlush:
			return
		case now := <-t.C:
			f.sealOlder(now.Add(-half))
		}
	}
}

// Shutdown stops taking records, sends every open batch, and waits until
// every batch is sent, refused or dropped, and every goroutine of the
// Forwarder has returned. When ctx is done first, what is still in
// flight is dropped and counted (reason shutdown), and Shutdown returns
// ctx.Err() once the goroutines have returned. Lines handed to ServeLine
// after Shutdown began are dropped (reason closed). Shutdown may be
// called more than once; each call waits as the first does.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	if f.closed.CompareAndSwap(false, true) {
		f.budget.close()
		close(f.stopFlush)
		<-f.flushDone
		f.sealOlder(time.Time{})
		for k := range f.shards {
			f.shards[k].sealing.Wait()
		}
		for _, s := range f.sinks {
			s.endIntake()
		}
		go func() {
			f.senders.Wait()
			for _, s := range f.sinks {
				s.close()
			}
			f.raw.drain()
			f.cancel()
			close(f.done)
		}()
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		f.cancel()
		<-f.done
		return ctx.Err()
	}
}

// Close drops whatever is in flight and stops the Forwarder: Shutdown
// with a context that is already done. Every record lost is counted.
func (f *Forwarder) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Stats returns the Forwarder's counters now.
func (f *Forwarder) Stats() Stats {
	st := Stats{
		BudgetBytes:   f.budget.used.Load(),
		BudgetLimit:   f.budget.limit,
		BudgetRefused: f.budget.refused.Load(),
		Sinks:         make([]SinkStats, len(f.sinks)),
	}
	for i, s := range f.sinks {
		st.Sinks[i] = s.c.stats(s.name, int(s.queued.Load()))
	}
	return st
}

// Usage reports the Forwarder's budget to a heapwatch.Monitor:
//
//	m.Track("forward", fw.Usage)
//
// Bytes is the memory held by batches (open, queued, being sent and
// pooled buffers), LimitBytes Options.MaxBytes, Entries the batches
// queued, Refused the times the budget had no room.
func (f *Forwarder) Usage() heapwatch.Usage {
	q := int64(0)
	for _, s := range f.sinks {
		q += s.queued.Load()
	}
	return heapwatch.Usage{
		Bytes:      f.budget.used.Load(),
		LimitBytes: f.budget.limit,
		Entries:    q,
		Refused:    f.budget.refused.Load(),
	}
}
