// Package loadgen generates access-log traffic and sends it over UDP at a
// steady rate: the load generator behind "ingest send", the load of the
// soak (bench/soak), and of the command's end-to-end tests.
//
// Send sends a bounded load (a count of lines, a duration, or both) to one
// or more UDP targets, paced in batches on a monotonic clock, with
// sendmmsg(2) on Linux and one write per datagram elsewhere. LineGen makes
// the lines: nginx "combined" lines, optionally behind an RFC 3164 or RFC
// 5424 syslog header, deterministic from a seed but for their times; or,
// with a ScannerMix, a scanner's flood of junk paths among real routes,
// timed by the mix.
//
// Nothing here allocates per line or per datagram once a run has started.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/flatheap/ingest"
)

// Defaults of Config.
const (
	// DefaultAddr is the target when Config.Targets is empty: the address
	// "ingest serve" listens on by default.
	DefaultAddr = "127.0.0.1:5514"
	// DefaultPathLength is the path length when Config.PathLength is 0.
	DefaultPathLength = 32
	// DefaultBatch is the batch size when Config.Batch is 0.
	DefaultBatch = 32
	// defaultJunkLength is the path length of Config.Routes' junk paths
	// when Config.PathLength is 0.
	defaultJunkLength = 2048
	// DefaultRate is the rate "ingest send" offers when none is given;
	// Config.Rate 0 means unpaced.
	DefaultRate = 1000
)

// Bounds of Config.
const (
	// MaxDatagramPayload is the largest UDP payload over IPv4; a datagram
	// never exceeds it, and lines are never split across datagrams.
	MaxDatagramPayload = 65507
	// MaxPathLength keeps the longest generated line, syslog header
	// included, under MaxDatagramPayload and ingest.MaxLineLength.
	MaxPathLength = 65000
	// MaxPaths bounds Config.Paths: pool paths carry their index in at
	// most 6 hex digits.
	MaxPaths = 1 << 24
	// MaxLinesPerDatagram bounds Config.LinesPerDatagram.
	MaxLinesPerDatagram = 4096
	// MaxBatch bounds Config.Batch.
	MaxBatch = 1024
	// MaxSources bounds Config.Sources.
	MaxSources = 256
	// MaxRunTime caps every run, also one bounded by Count only.
	MaxRunTime = 24 * time.Hour
	// MaxHostLength caps the syslog HOSTNAME taken from os.Hostname.
	MaxHostLength = 64
)

// Config describes the load Send sends. The zero value of a field
// selects its default; Duration or Count must be set.
type Config struct {
	Targets          []string      // UDP addresses; every datagram is sent to each target (same load to all receivers). Default ["127.0.0.1:5514"]
	Rate             int           // lines per second; 0 = as fast as possible
	Duration         time.Duration // stop after this long (0 = no time limit, but then Count must be set); at most MaxRunTime
	Count            int64         // stop after this many lines (0 = no count limit, but then Duration must be set); both set = whichever first
	PathLength       int           // bytes in each request path, default 32; e.g. 2048; at least 18 when Unique > 0
	Paths            int           // size of the pool of repeating paths (default 1: one path)
	Unique           float64       // fraction 0..1 of lines whose path is new (never sent before in this run); the rest cycle through the pool of Paths
	Syslog           string        // "none" (default), "3164", "5424"
	LinesPerDatagram int           // default 1; lines joined with '\n'; fewer when the next line might not fit in MaxDatagramPayload
	Batch            int           // datagrams per sendmmsg call on Linux (default 32); 1 = plain writes
	Seed             int64         // deterministic generation: same seed, same lines (but for times)

	// Routes makes lines in RoutesLogFormat whose paths come from
	// RouteTemplates with random IDs, and whose host, request time and
	// upstream response time vary. Unique is then the fraction of lines
	// with a junk path instead: PathLength bytes (default 2048), never sent
	// before in the run. Paths must be left at 1.
	Routes bool
	// Sources is the number of sockets, each with a port of its own, that
	// send to each target (default 1, at most MaxSources). Batches take
	// turns over them, so a receiver that spreads datagrams by source
	// (SO_REUSEPORT) sees the load spread.
	Sources int

	// Scanner makes the lines of a scanner's flood among real routes, in
	// RoutesLogFormat (see ScannerMix), and times them: Send paces them by
	// the mix's clock, and the load ends with the mix unless Count or
	// Duration ends it first. Rate, Routes, Unique and Paths must be left
	// at zero.
	Scanner *ScannerMix
}

// Result is what Send sent.
//
// Lines, Datagrams and Bytes are the load offered to each target: what was
// handed to each target's socket, accepted or refused (the largest count
// over the targets when a cancellation cut a batch short for some). With
// no SendErrors it is exactly what each target's kernel accepted; PerTarget
// has the accepted counts of each.
type Result struct {
	Lines, Datagrams, Bytes int64 // per target (what was sent to each)
	SendErrors              int64 // datagrams refused, e.g. ECONNREFUSED/ENOBUFS, over all targets; counted, not fatal
	Elapsed                 time.Duration
	PerTarget               []TargetResult // in the order of Config.Targets

	// With Config.Routes: the lines made from each of RouteTemplates, in
	// their order, and the lines with a junk path. They add up to Lines,
	// what was offered to each target, unless ctx ended the run in the
	// middle of a batch.
	Routes []RouteCount
	Junk   int64

	// With Config.Scanner: what the mix sent.
	Scanner *ScannerResult
}

// TargetResult counts what one target's socket accepted.
type TargetResult struct {
	Addr                    string
	Lines, Datagrams, Bytes int64 // accepted by the kernel
	SendErrors              int64 // datagrams refused
	Calls                   int64 // send system calls: sendmmsg, or write with Batch 1
}

// LinesPerSecond is the achieved rate: Lines over Elapsed.
func (r Result) LinesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Lines) / r.Elapsed.Seconds()
}

// ErrUnbounded is Normalize's error, and Send's, for a Config with neither
// Count nor Duration.
var ErrUnbounded = errors.New("the load must be bounded: set Count, Duration or both")

// Normalize returns c with its defaults filled in, or an error naming the
// first field out of range.
func (c Config) Normalize() (Config, error) {
	if len(c.Targets) == 0 {
		c.Targets = []string{DefaultAddr}
	}
	c.Targets = append([]string(nil), c.Targets...)
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Routes {
		def(&c.PathLength, defaultJunkLength)
	}
	def(&c.PathLength, DefaultPathLength)
	def(&c.Paths, 1)
	def(&c.Sources, 1)
	def(&c.LinesPerDatagram, 1)
	def(&c.Batch, DefaultBatch)
	if c.Syslog == "" {
		c.Syslog = "none"
	}
	if c.Scanner != nil {
		m, err := c.Scanner.normalize()
		if err != nil {
			return c, err
		}
		c.Scanner = &m
		if c.Rate != 0 || c.Routes || c.Unique != 0 || c.Paths != 1 {
			return c, errors.New("scanner: the mix makes its own paths and times; leave rate, routes, unique and paths unset")
		}
	}
	switch {
	case c.Duration == 0 && c.Count == 0 && c.Scanner == nil:
		return c, ErrUnbounded
	case c.Duration < 0 || c.Duration > MaxRunTime:
		return c, fmt.Errorf("duration %v out of range: want 0 to %v", c.Duration, MaxRunTime)
	case c.Count < 0:
		return c, fmt.Errorf("count %d out of range: want 0 or more", c.Count)
	case c.Rate < 0:
		return c, fmt.Errorf("rate %d out of range: want 0 (unpaced) or more", c.Rate)
	case c.Paths < 1 || c.Paths > MaxPaths:
		return c, fmt.Errorf("paths %d out of range: want 1 to %d", c.Paths, MaxPaths)
	case !(c.Unique >= 0 && c.Unique <= 1): // also NaN
		return c, fmt.Errorf("unique %v out of range: want 0 to 1", c.Unique)
	case c.LinesPerDatagram < 1 || c.LinesPerDatagram > MaxLinesPerDatagram:
		return c, fmt.Errorf("lines per datagram %d out of range: want 1 to %d", c.LinesPerDatagram, MaxLinesPerDatagram)
	case c.Batch < 1 || c.Batch > MaxBatch:
		return c, fmt.Errorf("batch %d out of range: want 1 to %d", c.Batch, MaxBatch)
	case c.Sources < 1 || c.Sources > MaxSources:
		return c, fmt.Errorf("sources %d out of range: want 1 to %d", c.Sources, MaxSources)
	case c.Routes && c.Paths != 1:
		return c, fmt.Errorf("paths %d with routes: routes make their own paths; leave paths at 1", c.Paths)
	}
	if _, err := syslogEnvelope(c.Syslog); err != nil {
		return c, err
	}
	if lo := minPathLength(c); c.PathLength < lo || c.PathLength > MaxPathLength {
		return c, fmt.Errorf("path length %d out of range: want %d to %d with these paths and unique settings", c.PathLength, lo, MaxPathLength)
	}
	for _, t := range c.Targets {
		if t == "" {
			return c, errors.New("empty target address")
		}
	}
	return c, nil
}

func syslogEnvelope(name string) (ingest.Envelope, error) {
	switch name {
	case "none":
		return ingest.EnvelopeNone, nil
	case "3164":
		return ingest.EnvelopeRFC3164, nil
	case "5424":
		return ingest.EnvelopeRFC5424, nil
	}
	return 0, fmt.Errorf("unknown syslog header %q: want none, 3164 or 5424", name)
}

// Send sends the load until done or ctx ends; progress (one line per
// second) goes to progress if non-nil. It returns an error for an invalid
// cfg, a target that cannot be opened, or a socket error other than the
// counted ones, with what was sent until then. The end of ctx is not an
// error.
//
// Pacing: lines go out in batches of up to Batch datagrams, each batch
// holding about a millisecond of the load at Rate (at least one datagram).
// A batch is due when the lines before it are due at Rate on a monotonic
// clock; the sender sleeps until then, never per line. When it falls
// behind (timer granularity, a busy CPU), it sends the next batches back
// to back to catch up, but only on a lag of up to maxLag: 10 ms, or the
// time of catchUpLines lines at low rates (capped at a second): a longer
// stall is forgiven, the schedule restarts from now, and the lost time
// shows as an achieved rate below Rate rather than as a burst. So a
// catch-up burst holds at most about maxLag of the load (at most
// catchUpLines lines beyond 10 ms), and one send call never more than one
// batch.
func Send(ctx context.Context, cfg Config, progress io.Writer) (Result, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return Result{}, err
	}
	gen := newLineGen(cfg, SyslogHostname())
	res := Result{PerTarget: make([]TargetResult, len(cfg.Targets))}
	targets := make([]*loadTarget, 0, len(cfg.Targets))
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	for i, addr := range cfg.Targets {
		res.PerTarget[i].Addr = addr
		t, err := dialTarget(addr, cfg.Batch, cfg.Sources)
		if err != nil {
			return res, err
		}
		targets = append(targets, t)
	}
	// Lines per datagram as sent: fewer than asked when that many lines
	// of the longest possible length would not fit in one datagram.
	cfg.LinesPerDatagram = min(cfg.LinesPerDatagram, (MaxDatagramPayload+1)/(gen.maxLine+1))
	b := newLoadBatch(cfg, gen.maxLine)
	p := newPacer(cfg)

	start := time.Now()
	end := start.Add(MaxRunTime)
	if cfg.Duration > 0 {
		end = start.Add(cfg.Duration)
	}
	// A write blocked on a full socket buffer ends at the end of the run
	// or when ctx ends, so the run stays bounded in time.
	for _, t := range targets {
		t.setWriteDeadline(end)
	}
	stopWrites := context.AfterFunc(ctx, func() {
		for _, t := range targets {
			t.setWriteDeadline(time.Unix(1, 0))
		}
	})
	defer stopWrites()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	pr := progressReporter{w: progress, start: start, next: start.Add(time.Second)}
	p.reset(start)
	var lines int64
	for ctx.Err() == nil {
		now := time.Now()
		if progress != nil && !now.Before(pr.next) {
			pr.report(now, lines, &res)
		}
		if !now.Before(end) || (cfg.Count > 0 && lines >= cfg.Count) {
			break
		}
		// With a scanner mix, limit is the mix's clock now: the lines
		// due by then go out.
		limit := time.Duration(-1)
		if gen.scan != nil {
			next, ok := gen.scan.nextAt()
			if !ok {
				break // the mix is done
			}
			if due := p.base.Add(next); now.Before(due) {
				sleepUntil(ctx, timer, now, due, end, &pr, progress != nil)
				continue
			} else if now.Sub(due) > scanMaxLag {
				// Too far behind: the mix's clock resumes from now, so
				// that the times between lines stay as they were.
				p.base = now.Add(-next)
			}
			limit = now.Sub(p.base)
		} else if cfg.Rate > 0 {
			due := p.due()
			if now.Before(due) {
				wake := due
				if end.Before(wake) {
					wake = end
				}
				if progress != nil && pr.next.Before(wake) {
					wake = pr.next
				}
				timer.Reset(wake.Sub(now))
				select {
				case <-timer.C:
				case <-ctx.Done():
				}
				continue
			}
			if now.Sub(due) > p.maxLag {
				p.reset(now)
			}
		}
		want := p.batchLines
		if cfg.Count > 0 {
			want = int(min(int64(want), cfg.Count-lines))
		}
		n := b.fill(gen, want, now, limit)
		lines += int64(n)
		p.advance(n)
		stopped := false
		for i, t := range targets {
			if err := t.send(b, &res.PerTarget[i]); err != nil {
				if isDeadline(err) && (ctx.Err() != nil || !time.Now().Before(end)) {
					stopped = true // the run ended while the socket was full
				} else {
					res.finish(targets, gen, start)
					return res, fmt.Errorf("send to %s: %w", t.addr, err)
				}
			}
		}
		if stopped {
			break
		}
	}
	res.finish(targets, gen, start)
	return res, nil
}

func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// finish sets the totals from the targets' counts.
func (r *Result) finish(targets []*loadTarget, gen *LineGen, start time.Time) {
	r.Routes, r.Junk = gen.Routes()
	r.Scanner = gen.Scanner()
	r.Elapsed = time.Since(start)
	r.Lines, r.Datagrams, r.Bytes, r.SendErrors = 0, 0, 0, 0
	for i, t := range targets {
		r.PerTarget[i].Calls = t.calls()
		r.Lines = max(r.Lines, t.offered.Lines)
		r.Datagrams = max(r.Datagrams, t.offered.Datagrams)
		r.Bytes = max(r.Bytes, t.offered.Bytes)
		r.SendErrors += r.PerTarget[i].SendErrors
	}
}

// scanMaxLag is how far a scanner mix may fall behind its clock before
// its clock resumes from now (see Send): the sender catches up on shorter
// lags by sending their lines back to back.
const scanMaxLag = 50 * time.Millisecond

// sleepUntil waits until due, the end of the run, the next progress line
// (when progress is reported), or the end of ctx, whichever comes first.
func sleepUntil(ctx context.Context, timer *time.Timer, now, due, end time.Time, pr *progressReporter, progress bool) {
	wake := due
	if end.Before(wake) {
		wake = end
	}
	if progress && pr.next.Before(wake) {
		wake = pr.next
	}
	timer.Reset(wake.Sub(now))
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// progressReporter writes the one-line-per-second progress.
type progressReporter struct {
	w         io.Writer
	start     time.Time
	next      time.Time
	lastAt    time.Time
	lastLines int64
}

func (pr *progressReporter) report(now time.Time, lines int64, r *Result) {
	var errs int64
	for i := range r.PerTarget {
		errs += r.PerTarget[i].SendErrors
	}
	since := pr.lastAt
	if since.IsZero() {
		since = pr.start
	}
	rate := 0.0
	if d := now.Sub(since).Seconds(); d > 0 {
		rate = float64(lines-pr.lastLines) / d
	}
	fmt.Fprintf(pr.w, "ingest send: %.3fs: %d lines, %.0f lines/s, %d send errors\n",
		now.Sub(pr.start).Seconds(), lines, rate, errs)
	pr.lastAt, pr.lastLines = now, lines
	pr.next = pr.next.Add(time.Second)
	if !now.Before(pr.next) { // fell behind by more than a second: no burst of lines
		pr.next = now.Add(time.Second)
	}
}

// pacer schedules batches at Rate lines per second.
type pacer struct {
	rate       float64 // lines per second; 0 unpaced
	batchLines int     // lines per batch
	maxLag     time.Duration
	base       time.Time
	lines      int64 // lines sent since base
}

// pacingQuantum is how much of the load, in time, one batch holds at most
// when paced: small batches keep the load smooth, and with the runtime's
// timers waking up to about a millisecond late, smaller would not help.
const pacingQuantum = time.Millisecond

// minMaxLag is the least lag the pacer catches up on: it covers the usual
// lateness of timers and of the scheduler on a busy machine, so that the
// achieved rate stays close to Rate.
const minMaxLag = 10 * time.Millisecond

// catchUpLines is the catch-up allowed at low rates; see Send.
const catchUpLines = 1000

// How these were chosen, on a busy 2-core machine: with a minMaxLag of
// 2 ms the sender achieved 93% of 100,000 lines/s, with 10 ms 97%. At
// 1,500 lines/s a batch is one datagram; 10 ms of lag (15 lines) was often
// exceeded, and the sender achieved 86 to 91% of the rate until it was
// allowed to catch up on up to catchUpLines lines.

func newPacer(c Config) *pacer {
	p := &pacer{batchLines: c.Batch * c.LinesPerDatagram, maxLag: minMaxLag}
	if c.Rate > 0 {
		p.rate = float64(c.Rate)
		perQuantum := int(int64(c.Rate) * int64(pacingQuantum) / int64(time.Second))
		datagrams := min(max(perQuantum/c.LinesPerDatagram, 1), c.Batch)
		p.batchLines = datagrams * c.LinesPerDatagram
		interval := time.Duration(float64(p.batchLines) / p.rate * float64(time.Second))
		catchUp := min(time.Duration(catchUpLines/p.rate*float64(time.Second)), time.Second)
		p.maxLag = max(minMaxLag, 2*interval, catchUp)
	}
	return p
}

func (p *pacer) reset(now time.Time) { p.base, p.lines = now, 0 }
func (p *pacer) advance(n int)       { p.lines += int64(n) }

// due returns when the next batch is due.
func (p *pacer) due() time.Time {
	return p.base.Add(time.Duration(float64(p.lines) / p.rate * float64(time.Second)))
}
