package forward

import (
	"sync/atomic"
	"time"
)

// Why records are dropped.
const (
	dropBudget   = iota // the budget was full
	dropTooLarge        // the record was longer than MaxRecordBytes
	dropAttempts        // MaxAttempts attempts failed
	dropShutdown        // still in flight when Shutdown's deadline passed
	dropClosed          // handed to ServeLine after Shutdown began
	numDrops
)

var dropNames = [numDrops]string{"budget", "too_large", "attempts", "shutdown", "closed"}

// Why an attempt at a batch failed and will be retried.
const (
	retryNetwork = iota // no answer: connection refused or reset, timeout
	retryStatus         // 408, 429 or 5xx, or per-item 429 in a _bulk answer
	numRetries
)

var retryNames = [numRetries]string{"network", "status"}

// durationBounds are the send-latency histogram's upper bounds, seconds.
var durationBounds = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var durationLE = [...]string{"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}

// counters are one sink's counters.
type counters struct {
	sent, retried, rejected atomic.Uint64 // records
	dropped                 [numDrops]atomic.Uint64
	batches                 atomic.Uint64 // sent
	batchesRejected         atomic.Uint64
	retries                 [numRetries]atomic.Uint64 // failed attempts
	bytes, rawBytes         atomic.Uint64
	buckets                 [len(durationBounds) + 1]atomic.Uint64
	durSum                  atomic.Uint64 // nanoseconds
}

func (c *counters) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(durationBounds) && s > durationBounds[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.durSum.Add(uint64(max(d, 0)))
}

// Stats are a Forwarder's counters and gauges. Record counts are of
// lines (one line is one record in every sink, whatever a Kafka record
// holds).
type Stats struct {
	// BudgetBytes is the memory held now by everything in flight;
	// BudgetLimit is Options.MaxBytes.
	BudgetBytes, BudgetLimit int64
	// BudgetRefused counts the times a buffer was wanted and the budget
	// had no room.
	BudgetRefused uint64
	// Sinks are the sinks in the order of New's urls.
	Sinks []SinkStats
}

// SinkStats are one sink's counters.
type SinkStats struct {
	// Sink is the sink's URL without credentials, query or fragment.
	Sink string
	// Sent counts records the sink acknowledged.
	Sent uint64
	// Retried counts records sent again after a failed attempt: each
	// may arrive twice when the failed attempt reached the store
	// (a timeout, a connection reset after the request was written).
	Retried uint64
	// Rejected counts records the store refused (a 4xx answer other
	// than 408 and 429, a _bulk item error, a Kafka error that is not
	// retriable). They are not retried.
	Rejected uint64
	// Dropped counts records lost by this side, by reason: Budget,
	// TooLarge, Attempts, Shutdown, Closed.
	Dropped                                                          uint64
	DroppedBudget, DroppedTooLarge, DroppedAttempts, DroppedShutdown uint64
	DroppedClosed                                                    uint64
	// Batches counts requests (Kafka: produced records) acknowledged;
	// BatchesRejected those refused whole; FailedNetwork and
	// FailedStatus the attempts that failed and were retried.
	Batches, BatchesRejected, FailedNetwork, FailedStatus uint64
	// Bytes counts bytes sent on the wire (compressed), RawBytes the
	// same records before compression.
	Bytes, RawBytes uint64
	// Queued is the number of batches waiting for a sender or being sent.
	Queued int
}

func (c *counters) stats(name string, queued int) SinkStats {
	s := SinkStats{
		Sink:            name,
		Sent:            c.sent.Load(),
		Retried:         c.retried.Load(),
		Rejected:        c.rejected.Load(),
		DroppedBudget:   c.dropped[dropBudget].Load(),
		DroppedTooLarge: c.dropped[dropTooLarge].Load(),
		DroppedAttempts: c.dropped[dropAttempts].Load(),
		DroppedShutdown: c.dropped[dropShutdown].Load(),
		DroppedClosed:   c.dropped[dropClosed].Load(),
		Batches:         c.batches.Load(),
		BatchesRejected: c.batchesRejected.Load(),
		FailedNetwork:   c.retries[retryNetwork].Load(),
		FailedStatus:    c.retries[retryStatus].Load(),
		Bytes:           c.bytes.Load(),
		RawBytes:        c.rawBytes.Load(),
		Queued:          queued,
	}
	s.Dropped = s.DroppedBudget + s.DroppedTooLarge + s.DroppedAttempts + s.DroppedShutdown + s.DroppedClosed
	return s
}
