package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
)

var sendUsage = `Usage: ingest send (--count N | --duration D) [flags]

Send generated nginx "combined" access-log lines over UDP, the load a web
server's access_log syslog: target would send. Every datagram goes to each
--addr. The run is bounded: set --count, --duration or both (whichever is
reached first ends it); no run lasts longer than ` + maxRunTime.String() + `.

A progress line goes to stderr every second, and a summary to stdout at the
end, also after SIGINT or SIGTERM. A datagram refused by the kernel (for
example ECONNREFUSED when nothing listens on a target) is counted, not fatal.

Exit status: 0 when every datagram was handed to the kernel, 1 when some
were refused, 2 for a usage error or when a socket cannot be opened or
written.

Flags:
`

// Defaults and bounds of loadConfig.
const (
	defaultSendAddr   = "127.0.0.1:5514"
	defaultPathLength = 32
	defaultSendBatch  = 32
	defaultSendRate   = 1000 // lines/s, the --rate default only; loadConfig.Rate 0 means unpaced

	// maxDatagramPayload is the largest UDP payload over IPv4; a datagram
	// never exceeds it, and lines are never split across datagrams.
	maxDatagramPayload = 65507
	// maxPathLength keeps the longest generated line, syslog header
	// included, under maxDatagramPayload and ingest.MaxLineLength.
	maxPathLength       = 65000
	maxPaths            = 1 << 24 // pool paths carry their index in at most 6 hex digits
	maxLinesPerDatagram = 4096
	maxSendBatch        = 1024
	// maxRunTime caps every run, also one bounded by Count only.
	maxRunTime = 24 * time.Hour
	// maxHostLength caps the syslog HOSTNAME taken from os.Hostname.
	maxHostLength = 64
)

// loadConfig describes the load sendLoad sends. The zero value of a field
// selects its default; Duration or Count must be set.
type loadConfig struct {
	Targets          []string      // UDP addresses; every datagram is sent to each target (same load to all receivers). Default ["127.0.0.1:5514"]
	Rate             int           // lines per second; 0 = as fast as possible
	Duration         time.Duration // stop after this long (0 = no time limit, but then Count must be set); at most maxRunTime
	Count            int64         // stop after this many lines (0 = no count limit, but then Duration must be set); both set = whichever first
	PathLength       int           // bytes in each request path, default 32; e.g. 2048; at least 18 when Unique > 0
	Paths            int           // size of the pool of repeating paths (default 1: one path)
	Unique           float64       // fraction 0..1 of lines whose path is new (never sent before in this run); the rest cycle through the pool of Paths
	Syslog           string        // "none" (default), "3164", "5424"
	LinesPerDatagram int           // default 1; lines joined with '\n'; fewer when the next line might not fit in maxDatagramPayload
	Batch            int           // datagrams per sendmmsg call on Linux (default 32); 1 = plain writes
	Seed             int64         // deterministic generation: same seed, same lines (but for times)
}

// loadResult is what sendLoad sent.
//
// Lines, Datagrams and Bytes are the load offered to each target: what was
// handed to each target's socket, accepted or refused (the largest count
// over the targets when a cancellation cut a batch short for some). With
// no SendErrors it is exactly what each target's kernel accepted; PerTarget
// has the accepted counts of each.
type loadResult struct {
	Lines, Datagrams, Bytes int64 // per target (what was sent to each)
	SendErrors              int64 // datagrams refused, e.g. ECONNREFUSED/ENOBUFS, over all targets; counted, not fatal
	Elapsed                 time.Duration
	PerTarget               []targetResult // in the order of loadConfig.Targets
}

// targetResult counts what one target's socket accepted.
type targetResult struct {
	Addr                    string
	Lines, Datagrams, Bytes int64 // accepted by the kernel
	SendErrors              int64 // datagrams refused
	Calls                   int64 // send system calls: sendmmsg, or write with Batch 1
}

// LinesPerSecond is the achieved rate: Lines over Elapsed.
func (r loadResult) LinesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Lines) / r.Elapsed.Seconds()
}

var errUnbounded = errors.New("the load must be bounded: set Count, Duration or both")

// normalize fills in defaults and checks every field.
func (c loadConfig) normalize() (loadConfig, error) {
	if len(c.Targets) == 0 {
		c.Targets = []string{defaultSendAddr}
	}
	c.Targets = append([]string(nil), c.Targets...)
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.PathLength, defaultPathLength)
	def(&c.Paths, 1)
	def(&c.LinesPerDatagram, 1)
	def(&c.Batch, defaultSendBatch)
	if c.Syslog == "" {
		c.Syslog = "none"
	}
	switch {
	case c.Duration == 0 && c.Count == 0:
		return c, errUnbounded
	case c.Duration < 0 || c.Duration > maxRunTime:
		return c, fmt.Errorf("duration %v out of range: want 0 to %v", c.Duration, maxRunTime)
	case c.Count < 0:
		return c, fmt.Errorf("count %d out of range: want 0 or more", c.Count)
	case c.Rate < 0:
		return c, fmt.Errorf("rate %d out of range: want 0 (unpaced) or more", c.Rate)
	case c.Paths < 1 || c.Paths > maxPaths:
		return c, fmt.Errorf("paths %d out of range: want 1 to %d", c.Paths, maxPaths)
	case !(c.Unique >= 0 && c.Unique <= 1): // also NaN
		return c, fmt.Errorf("unique %v out of range: want 0 to 1", c.Unique)
	case c.LinesPerDatagram < 1 || c.LinesPerDatagram > maxLinesPerDatagram:
		return c, fmt.Errorf("lines per datagram %d out of range: want 1 to %d", c.LinesPerDatagram, maxLinesPerDatagram)
	case c.Batch < 1 || c.Batch > maxSendBatch:
		return c, fmt.Errorf("batch %d out of range: want 1 to %d", c.Batch, maxSendBatch)
	}
	if _, err := syslogEnvelope(c.Syslog); err != nil {
		return c, err
	}
	if lo := minPathLength(c); c.PathLength < lo || c.PathLength > maxPathLength {
		return c, fmt.Errorf("path length %d out of range: want %d to %d with these paths and unique settings", c.PathLength, lo, maxPathLength)
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

// sendLoad sends the load until done or ctx ends; progress (one line per
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
// batch. With 2 ms instead of 10, a busy 2-core machine achieved 93% of
// 100,000 lines/s; with 10 ms, 97%. At 1,500 lines/s, a batch is one
// datagram, and 10 ms of lag (15 lines) was often exceeded on the same
// busy machine, which achieved 86 to 91% of the rate; catching up on up to
// 1,000 lines restored it.
func sendLoad(ctx context.Context, cfg loadConfig, progress io.Writer) (loadResult, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return loadResult{}, err
	}
	gen := newLineGen(cfg, syslogHostname())
	res := loadResult{PerTarget: make([]targetResult, len(cfg.Targets))}
	targets := make([]*loadTarget, 0, len(cfg.Targets))
	defer func() {
		for _, t := range targets {
			t.conn.Close()
		}
	}()
	for i, addr := range cfg.Targets {
		res.PerTarget[i].Addr = addr
		t, err := dialTarget(addr, cfg.Batch)
		if err != nil {
			return res, err
		}
		targets = append(targets, t)
	}
	// Lines per datagram as sent: fewer than asked when that many lines
	// of the longest possible length would not fit in one datagram.
	cfg.LinesPerDatagram = min(cfg.LinesPerDatagram, (maxDatagramPayload+1)/(gen.maxLine+1))
	b := newLoadBatch(cfg, gen.maxLine)
	p := newPacer(cfg)

	start := time.Now()
	end := start.Add(maxRunTime)
	if cfg.Duration > 0 {
		end = start.Add(cfg.Duration)
	}
	// A write blocked on a full socket buffer ends at the end of the run
	// or when ctx ends, so the run stays bounded in time.
	for _, t := range targets {
		t.conn.SetWriteDeadline(end)
	}
	stopWrites := context.AfterFunc(ctx, func() {
		for _, t := range targets {
			t.conn.SetWriteDeadline(time.Unix(1, 0))
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
		if cfg.Rate > 0 {
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
		n := b.fill(gen, want, now)
		lines += int64(n)
		p.advance(n)
		stopped := false
		for i, t := range targets {
			if err := t.send(b, &res.PerTarget[i]); err != nil {
				if isDeadline(err) && (ctx.Err() != nil || !time.Now().Before(end)) {
					stopped = true // the run ended while the socket was full
				} else {
					res.finish(targets, start)
					return res, fmt.Errorf("send to %s: %w", t.addr, err)
				}
			}
		}
		if stopped {
			break
		}
	}
	res.finish(targets, start)
	return res, nil
}

func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// finish sets the totals from the targets' counts.
func (r *loadResult) finish(targets []*loadTarget, start time.Time) {
	r.Elapsed = time.Since(start)
	r.Lines, r.Datagrams, r.Bytes, r.SendErrors = 0, 0, 0, 0
	for i, t := range targets {
		r.PerTarget[i].Calls = t.sender.calls()
		r.Lines = max(r.Lines, t.offered.Lines)
		r.Datagrams = max(r.Datagrams, t.offered.Datagrams)
		r.Bytes = max(r.Bytes, t.offered.Bytes)
		r.SendErrors += r.PerTarget[i].SendErrors
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

func (pr *progressReporter) report(now time.Time, lines int64, r *loadResult) {
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

// catchUpLines is the catch-up allowed at low rates; see sendLoad.
const catchUpLines = 1000

func newPacer(c loadConfig) *pacer {
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

// loadTarget is one receiver: a connected UDP socket and its sender.
type loadTarget struct {
	addr    string
	conn    *net.UDPConn
	sender  datagramSender
	failed  []bool // per datagram of the batch being sent
	offered targetResult
}

// datagramSender sends batches of datagrams on a connected socket.
type datagramSender interface {
	// send sends dgs in order. It returns how many it handed to the
	// kernel, accepted or refused, and sets failed[i] for each dgs[i] the
	// kernel refused with a counted error (see countedErrno). An error
	// ends the batch: a deadline, or a socket error not counted.
	send(dgs [][]byte, failed []bool) (int, error)
	// calls returns the number of send system calls made so far.
	calls() int64
}

func dialTarget(addr string, batch int) (*loadTarget, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	s, err := newSender(conn, batch)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &loadTarget{addr: addr, conn: conn, sender: s, failed: make([]bool, batch)}, nil
}

// send sends the batch and adds it to tr (accepted) and t.offered.
func (t *loadTarget) send(b *loadBatch, tr *targetResult) error {
	failed := t.failed[:b.n]
	clear(failed)
	done, err := t.sender.send(b.dgs[:b.n], failed)
	for i := range done {
		lines, size := int64(b.lines[i]), int64(len(b.dgs[i]))
		t.offered.Lines += lines
		t.offered.Datagrams++
		t.offered.Bytes += size
		if failed[i] {
			tr.SendErrors++
			continue
		}
		tr.Lines += lines
		tr.Datagrams++
		tr.Bytes += size
	}
	return err
}

// countedErrnos are the send errors that are counted, not fatal: the
// datagram is lost and the next one is sent. ECONNREFUSED is the pending
// ICMP "port unreachable" of an earlier datagram to a target with no
// listener.
var countedErrnos = [...]syscall.Errno{
	syscall.ECONNREFUSED, syscall.ENOBUFS, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
}

func countedErrno(e syscall.Errno) bool {
	for _, c := range countedErrnos {
		if e == c {
			return true
		}
	}
	return false
}

func countedError(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e) && countedErrno(e)
}

// writeSender sends one datagram per write: the portable path, and Batch 1.
type writeSender struct {
	conn *net.UDPConn
	n    int64
}

func (w *writeSender) send(dgs [][]byte, failed []bool) (int, error) {
	for i, d := range dgs {
		_, err := w.conn.Write(d)
		if err != nil && !countedError(err) {
			return i, err
		}
		w.n++
		failed[i] = err != nil
	}
	return len(dgs), nil
}

func (w *writeSender) calls() int64 { return w.n }

// loadBatch holds the datagrams of one batch in one buffer allocated once:
// slot bytes per datagram, datagrams as capped views of their slots.
type loadBatch struct {
	lpd   int // lines per datagram, at most
	slot  int
	arena []byte
	dgs   [][]byte
	lines []int // lines in each datagram
	n     int   // datagrams in the batch
}

func newLoadBatch(c loadConfig, maxLine int) *loadBatch {
	slot := min(maxDatagramPayload, c.LinesPerDatagram*(maxLine+1))
	return &loadBatch{
		lpd:   c.LinesPerDatagram,
		slot:  slot,
		arena: make([]byte, c.Batch*slot),
		dgs:   make([][]byte, c.Batch),
		lines: make([]int, c.Batch),
	}
}

// fill generates up to want lines into the batch and returns how many it
// generated. A datagram gets lpd lines, or fewer when one more line of the
// longest possible length might not fit in its slot.
func (b *loadBatch) fill(g *lineGen, want int, now time.Time) int {
	b.n = 0
	lines := 0
	for lines < want && b.n < len(b.dgs) {
		off := b.n * b.slot
		dg := b.arena[off : off : off+b.slot]
		k := 0
		for k < b.lpd && lines < want {
			if k > 0 {
				if len(dg)+1+g.maxLine > b.slot {
					break
				}
				dg = append(dg, '\n')
			}
			dg = g.appendLine(dg, now)
			k++
			lines++
		}
		b.dgs[b.n], b.lines[b.n] = dg, k
		b.n++
	}
	return lines
}

// syslogHostname returns the host name for syslog headers: os.Hostname
// made safe for one header field.
func syslogHostname() string {
	h, _ := os.Hostname()
	if len(h) > maxHostLength {
		h = h[:maxHostLength]
	}
	b := []byte(h)
	for i, c := range b {
		if c <= ' ' || c > '~' {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "localhost"
	}
	return string(b)
}

func runSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("send", sendUsage, stderr)
	addr := fs.String("addr", defaultSendAddr, "target UDP `address`es, comma-separated; each gets every datagram")
	rate := fs.Int("rate", defaultSendRate, "lines per second; 0 sends as fast as possible")
	duration := fs.Duration("duration", 0, "stop after this long (at most "+maxRunTime.String()+")")
	count := fs.Int64("count", 0, "stop after this many lines")
	pathLength := fs.Int("path-length", defaultPathLength, "bytes in each request path")
	paths := fs.Int("paths", 1, "number of distinct repeating paths")
	unique := fs.Float64("unique", 0, "fraction 0..1 of lines with a path never sent before; 1 makes every path unique")
	syslogName := fs.String("syslog", "none", "syslog header: none, 3164 or 5424, as nginx writes them")
	lpd := fs.Int("lines-per-datagram", 1, "lines per datagram, joined with newlines; fewer when a datagram would exceed 65507 bytes")
	batch := fs.Int("batch", defaultSendBatch, "datagrams per sendmmsg call on Linux; 1 for one write per datagram")
	seed := fs.Int64("seed", 1, "seed of the generated paths and fields")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ingest send: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := loadConfig{
		Rate:             *rate,
		Duration:         *duration,
		Count:            *count,
		PathLength:       *pathLength,
		Paths:            *paths,
		Unique:           *unique,
		Syslog:           *syslogName,
		LinesPerDatagram: *lpd,
		Batch:            *batch,
		Seed:             *seed,
	}
	for a := range strings.SplitSeq(*addr, ",") {
		cfg.Targets = append(cfg.Targets, strings.TrimSpace(a))
	}
	// Zero values select defaults in loadConfig; on the command line they
	// are mistakes, except for the limits and the rate.
	for _, f := range []struct {
		name string
		v    int
	}{{"path-length", *pathLength}, {"paths", *paths}, {"lines-per-datagram", *lpd}, {"batch", *batch}} {
		if f.v <= 0 {
			fmt.Fprintf(stderr, "ingest send: --%s %d out of range: want 1 or more\n", f.name, f.v)
			return 2
		}
	}
	if _, err := cfg.normalize(); err != nil {
		if errors.Is(err, errUnbounded) {
			fmt.Fprintln(stderr, "ingest send: the load must be bounded: set --count, --duration or both")
		} else {
			fmt.Fprintf(stderr, "ingest send: %v\n", err)
		}
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := sendLoad(ctx, cfg, stderr)
	writeSummary(stdout, res)
	if err != nil {
		fmt.Fprintf(stderr, "ingest send: %v\n", err)
		return 2
	}
	if res.SendErrors > 0 {
		return 1
	}
	return 0
}

// writeSummary writes the totals, then one line per target.
func writeSummary(w io.Writer, r loadResult) {
	fmt.Fprintf(w, "sent lines=%d datagrams=%d bytes=%d errors=%d elapsed=%s rate=%.0f lines/s targets=%d\n",
		r.Lines, r.Datagrams, r.Bytes, r.SendErrors, r.Elapsed.Truncate(time.Millisecond), r.LinesPerSecond(), len(r.PerTarget))
	for _, t := range r.PerTarget {
		rate := 0.0
		if r.Elapsed > 0 {
			rate = float64(t.Lines) / r.Elapsed.Seconds()
		}
		fmt.Fprintf(w, "target %s lines=%d datagrams=%d bytes=%d errors=%d calls=%d rate=%.0f lines/s\n",
			t.Addr, t.Lines, t.Datagrams, t.Bytes, t.SendErrors, t.Calls, rate)
	}
}

// appendHex appends v as width lowercase hex digits, the low ones.
func appendHex(dst []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		dst = append(dst, digits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// lineGen generates access lines. It is not safe for concurrent use.
//
// A path is "/" followed by a kind letter, a hex number and filler from a
// template made from the seed, PathLength bytes in all. Pool paths are
// "/p" and the pool index in poolWidth digits; unique paths are "/u" and a
// 16-digit counter starting at a value derived from the seed, so the two
// kinds never meet and a unique path is never sent twice in a run.
type lineGen struct {
	envelope   ingest.Envelope
	host       string
	template   []byte // PathLength bytes of filler
	paths      int
	poolWidth  int
	poolNext   int
	unique     float64
	uniqueAcc  float64
	uniqueNext uint64
	rng        uint64
	maxLine    int // no line is longer

	sec       int64  // the Unix second the cached texts are for
	timeLocal []byte // "[02/Jan/2006:15:04:05 -0700]"
	header    []byte // 3164: the whole header; 5424: up to the seconds
	header2   []byte // 5424: from the UTC offset to the message
}

// The varying fields of a line, picked by bits of one random number.
var (
	genNets     = [4]string{"203.0.113.", "198.51.100.", "192.0.2.", "10.20.30."}
	genMethods  = [8]string{"GET", "GET", "GET", "GET", "GET", "POST", "HEAD", "GET"}
	genStatuses = [16]string{"200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "304", "301", "404", "404", "500", "503"}
	genReferers = [4]string{"-", "-", "https://www.example.com/", "https://search.example.org/?q=ingest"}
	genAgents   = [4]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"curl/8.5.0",
	}
)

const (
	layoutTimeLocal = "[02/Jan/2006:15:04:05 -0700]"
	layout3164      = "Jan _2 15:04:05"
	layout5424      = "2006-01-02T15:04:05"
	layout5424Zone  = "-07:00"
	// genFixedMax bounds the bytes of a line outside its path and syslog
	// header: address, time, request, status, byte count, referer, agent.
	genFixedMax = len("255.255.255.255") + len(" - - ") + len(layoutTimeLocal) + len(` "POST `) +
		len(` HTTP/1.1" `) + len("200 ") + len("99999") + len(` "`) + 64 + len(`" "`) + 160 + len(`"`)
	uniquePrefixLen = 2 + 16
)

func hexWidth(n int) int {
	w := 1
	for ; n >= 16; n >>= 4 {
		w++
	}
	return w
}

// minPathLength is the shortest path c can generate.
func minPathLength(c loadConfig) int {
	if c.Unique > 0 {
		return uniquePrefixLen
	}
	if c.Paths == 1 {
		return 1 // "/" and filler; see appendPath
	}
	return 2 + hexWidth(c.Paths-1)
}

// newLineGen returns a generator for c, which must be normalized.
func newLineGen(c loadConfig, host string) *lineGen {
	env, _ := syslogEnvelope(c.Syslog)
	g := &lineGen{
		envelope:  env,
		host:      host,
		paths:     c.Paths,
		poolWidth: hexWidth(c.Paths - 1),
		unique:    c.Unique,
		rng:       splitmix(uint64(c.Seed)),
		sec:       -1 << 63,
		timeLocal: make([]byte, 0, 64),
		header:    make([]byte, 0, 64+len(host)),
		header2:   make([]byte, 0, 64+len(host)),
	}
	g.uniqueNext = splitmix(g.rng^0x5eed) >> 8 // room for 2^56 lines before the counter wraps
	g.template = pathTemplate(c.PathLength, g.rng)
	headerMax := 0
	switch env {
	case ingest.EnvelopeRFC3164:
		headerMax = len("<190>") + len(layout3164) + 1 + len(host) + len(" nginx: ")
	case ingest.EnvelopeRFC5424:
		headerMax = len("<190>1 ") + len(layout5424) + len(".000") + len(layout5424Zone) + 1 + len(host) + len(" nginx - - - ")
	}
	g.maxLine = headerMax + genFixedMax + c.PathLength
	return g
}

// pathTemplate returns n bytes of path filler: lowercase letters and
// digits in segments of 3 to 10 separated by '/'.
func pathTemplate(n int, seed uint64) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	t := make([]byte, n)
	s := seed
	seg := 0
	for i := range t {
		s = splitmix(s)
		if seg >= 3 && (seg >= 10 || s%4 == 0) {
			t[i] = '/'
			seg = 0
			continue
		}
		t[i] = alphabet[(s>>8)%uint64(len(alphabet))]
		seg++
	}
	return t
}

// splitmix is one step of SplitMix64: a cheap, well-mixed function of x.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// setTime formats the cached time texts for now's second.
func (g *lineGen) setTime(now time.Time, sec int64) {
	g.sec = sec
	g.timeLocal = now.AppendFormat(g.timeLocal[:0], layoutTimeLocal)
	switch g.envelope {
	case ingest.EnvelopeRFC3164:
		h := append(g.header[:0], "<190>"...)
		h = now.AppendFormat(h, layout3164)
		h = append(h, ' ')
		h = append(h, g.host...)
		g.header = append(h, " nginx: "...)
	case ingest.EnvelopeRFC5424:
		h := append(g.header[:0], "<190>1 "...)
		g.header = now.AppendFormat(h, layout5424)
		h = now.AppendFormat(g.header2[:0], layout5424Zone)
		h = append(h, ' ')
		h = append(h, g.host...)
		g.header2 = append(h, " nginx - - - "...)
	}
}

// appendLine appends one access line, without a line ending, for the time
// now. It does not allocate when dst has room for maxLine more bytes.
func (g *lineGen) appendLine(dst []byte, now time.Time) []byte {
	if sec := now.Unix(); sec != g.sec {
		g.setTime(now, sec)
	}
	g.rng = splitmix(g.rng)
	r := g.rng
	switch g.envelope {
	case ingest.EnvelopeRFC3164:
		dst = append(dst, g.header...)
	case ingest.EnvelopeRFC5424:
		dst = append(dst, g.header...)
		ms := now.Nanosecond() / 1e6
		dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		dst = append(dst, g.header2...)
	}
	dst = append(dst, genNets[r&3]...)
	dst = strconv.AppendUint(dst, (r>>2)%254+1, 10)
	dst = append(dst, " - - "...)
	dst = append(dst, g.timeLocal...)
	dst = append(dst, ` "`...)
	dst = append(dst, genMethods[(r>>10)&7]...)
	dst = append(dst, ' ')
	dst = g.appendPath(dst)
	dst = append(dst, ` HTTP/1.1" `...)
	dst = append(dst, genStatuses[(r>>13)&15]...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, (r>>17)%100000, 10)
	dst = append(dst, ` "`...)
	dst = append(dst, genReferers[(r>>40)&3]...)
	dst = append(dst, `" "`...)
	dst = append(dst, genAgents[(r>>42)&3]...)
	return append(dst, '"')
}

// appendPath appends the next path: a unique one for the Unique fraction
// of lines, spread evenly, and the next pool path otherwise.
func (g *lineGen) appendPath(dst []byte) []byte {
	if g.paths == 1 && g.unique == 0 {
		// One path: no index needed, so any length down to "/" works.
		dst = append(dst, '/')
		return append(dst, g.template[1:]...)
	}
	start := len(dst)
	g.uniqueAcc += g.unique
	if g.uniqueAcc >= 1 {
		g.uniqueAcc--
		dst = append(dst, '/', 'u')
		dst = appendHex(dst, g.uniqueNext, 16)
		g.uniqueNext++
	} else {
		dst = append(dst, '/', 'p')
		dst = appendHex(dst, uint64(g.poolNext), g.poolWidth)
		if g.poolNext++; g.poolNext == g.paths {
			g.poolNext = 0
		}
	}
	return append(dst, g.template[len(dst)-start:]...)
}
