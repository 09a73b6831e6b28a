package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flatheap/ingest/forward"
)

// serve's forwarding: with --forward, every line parsed goes, besides the
// route metrics and the path table, to a forward.Forwarder that ships it
// to the log stores or Kafka topics given. This file holds its flags, the
// checks of them, and what the daemon does with the Forwarder: build it,
// name its sinks at start-up, write its metrics, shut it down at the end.

// defaultForwardGrace is --forward-grace's default: how long a stop waits
// for the Forwarder to deliver what it holds.
const defaultForwardGrace = 10 * time.Second

// sizeFlag is a size in bytes, given as a number with an optional unit:
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
// 1024), case-insensitive: "256MiB", "1.5GB", "65536".
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// sizeUnits are the units parseSize takes, lower-cased.
var sizeUnits = []struct {
	name string
	mult float64
}{
	{"", 1}, {"b", 1},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
}

// errSize is the error of a size that does not parse.
var errSize = errors.New("want a size in bytes, with an optional unit: B, KB, MB, GB, KiB, MiB, GiB (as in 256MiB)")

// parseSize parses a size: a decimal number, optionally with a fraction,
// and a unit (see sizeFlag). The result is rounded down to whole bytes and
// must fit in an int64.
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if num == "" || num[0] == '.' || strings.Count(num, ".") > 1 {
		return 0, errSize
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errSize
	}
	for _, u := range sizeUnits {
		if u.name == unit {
			b := math.Floor(v * u.mult)
			if b >= math.MaxInt64 {
				return 0, errors.New("too large")
			}
			return int64(b), nil
		}
	}
	return 0, errSize
}

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// forwardFlags are the flags of the forwarding.
type forwardFlags struct {
	urls, static listFlag
	buffer       sizeFlag
	block        *bool
	fields       *string
	grace        *time.Duration
}

func addForwardFlags(fs *flag.FlagSet) *forwardFlags {
	f := &forwardFlags{buffer: forward.DefaultMaxBytes}
	fs.Var(&f.urls, "forward", "sink `URL` to forward every parsed line to, repeatable: jsonline+http://host:9428/insert/jsonline (VictoriaLogs), es+http://host:9200/INDEX (Elasticsearch, OpenSearch, VictoriaLogs' _bulk), kafka://broker1:9092,broker2:9092/TOPIC; https for TLS, user:password@ for basic authentication (see docs/forward.md)")
	fs.Var(&f.buffer, "forward-buffer", "memory `size` for the lines in flight to every --forward sink together (as in 256MiB); when it is full, lines are dropped and counted, or with --forward-block the readers wait")
	f.block = fs.Bool("forward-block", false, "when --forward-buffer is full, make the inputs wait instead of dropping lines (a sink that stays down then stalls every input)")
	f.fields = fs.String("forward-fields", "", "comma-separated `fields` of each forwarded record (time, msg, remote_addr, method, path, status, route, vhost, ... or a --log-format variable); default all but request")
	fs.Var(&f.static, "forward-static", "`name=value` added to every forwarded record, repeatable (the instance, the environment)")
	f.grace = fs.Duration("forward-grace", defaultForwardGrace, "at a stop, how long to wait for the sinks to take what is in flight; what is left then is dropped and counted")
	return f
}

// forwardConfig is what the forwarding flags ask for, checked.
type forwardConfig struct {
	urls  []string        // none: no forwarding
	opt   forward.Options // MaxBytes, BatchBytes, Block, Fields, Static
	grace time.Duration
}

// config checks the forwarding flags, after fs.Parse. Its error is one
// line, naming the flag. The sink URLs are checked by newForwarder.
func (f *forwardFlags) config(fs *flag.FlagSet) (forwardConfig, error) {
	c := forwardConfig{urls: f.urls, grace: *f.grace}
	if len(c.urls) == 0 {
		for _, name := range []string{"forward-buffer", "forward-block", "forward-fields", "forward-static", "forward-grace"} {
			if isSet(fs, name) {
				return c, fmt.Errorf("--%s applies to --forward, and none is given", name)
			}
		}
		return c, nil
	}
	c.opt.MaxBytes = int64(f.buffer)
	if c.opt.MaxBytes < 64<<10 {
		return c, fmt.Errorf("--forward-buffer %s: want at least 64KiB", formatSize(c.opt.MaxBytes))
	}
	// A batch's buffer is at most a quarter of the budget.
	c.opt.BatchBytes = int(min(forward.DefaultBatchBytes, c.opt.MaxBytes/4))
	c.opt.Block = *f.block
	if *f.fields != "" {
		for name := range strings.SplitSeq(*f.fields, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				return c, fmt.Errorf("--forward-fields %q: an empty field name", *f.fields)
			}
			c.opt.Fields = append(c.opt.Fields, name)
		}
	}
	for _, s := range f.static {
		fd, err := forward.ParseField(s)
		if err != nil {
			return c, fmt.Errorf("--forward-static %q: want name=value", s)
		}
		c.opt.Static = append(c.opt.Static, fd)
	}
	if c.grace <= 0 {
		return c, errors.New("--forward-grace must be positive")
	}
	return c, nil
}

// newForwarder starts the Forwarder of cfg, or returns nil without
// --forward. Its route field is the route metrics' own route (the same
// templater), and its vhost for lines without $host the fixed --vhost.
// Its error is one line, naming the flag.
func newForwarder(cfg *serveConfig, logger *slog.Logger) (*forward.Forwarder, error) {
	fc := &cfg.forward
	if len(fc.urls) == 0 {
		return nil, nil
	}
	opt := fc.opt
	opt.Routes = cfg.routeMetrics.Routes
	opt.VHost = cfg.routeMetrics.VHost
	opt.Logger = logger
	fw, err := forward.New(fc.urls, opt)
	if ce, ok := errors.AsType[*forward.ConfigError](err); ok {
		flagName := map[string]string{
			"sink URL": "--forward", "urls": "--forward",
			"Fields": "--forward-fields", "Static": "--forward-static",
			"MaxBytes": "--forward-buffer", "BatchBytes": "--forward-buffer",
		}[ce.Field]
		if flagName == "" {
			flagName = "--forward"
		}
		return nil, fmt.Errorf("%s %q: %s", flagName, ce.Value, ce.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("--forward: %v", err)
	}
	return fw, nil
}

// forwardAttrs returns the start-up line's attributes of the forwarding:
// the sinks by name (their URLs without credentials or query), the
// buffer and whether the inputs wait for it; none without --forward.
func (d *daemon) forwardAttrs() []any {
	if d.fw == nil {
		return nil
	}
	var names []string
	for _, s := range d.fw.Stats().Sinks {
		names = append(names, s.Sink)
	}
	return []any{"forward", strings.Join(names, ","),
		"forward_buffer", formatSize(d.cfg.forward.opt.MaxBytes), "forward_block", d.cfg.forward.opt.Block}
}

// stopForward shuts the Forwarder down, after the inputs stopped: it
// sends what is open and queued, for at most --forward-grace, and counts
// what is left as dropped (reason shutdown).
func (d *daemon) stopForward() {
	if d.fw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.forward.grace)
	defer cancel()
	if err := d.fw.Shutdown(ctx); err != nil {
		var dropped uint64
		for _, s := range d.fw.Stats().Sinks {
			dropped += s.DroppedShutdown
		}
		d.logger.Warn("forward: the sinks did not take every line within --forward-grace; the rest is dropped",
			"grace", d.cfg.forward.grace.String(), "dropped", dropped)
	}
}

// writeForwardMetrics writes the Forwarder's families
// (ingest_forward_*), after serve's own.
func (d *daemon) writeForwardMetrics(p *promWriter) {
	if d.fw != nil {
		d.fw.WritePrometheus(p.w)
	}
}

// printForwardFinal writes one line of final counts per sink.
func (d *daemon) printForwardFinal(w io.Writer) {
	if d.fw == nil {
		return
	}
	for _, s := range d.fw.Stats().Sinks {
		fmt.Fprintf(w, "forward %s sent %d retried %d rejected %d dropped %d dropped_budget %d dropped_too_large %d dropped_attempts %d dropped_shutdown %d dropped_closed %d\n",
			s.Sink, s.Sent, s.Retried, s.Rejected, s.Dropped, s.DroppedBudget, s.DroppedTooLarge,
			s.DroppedAttempts, s.DroppedShutdown, s.DroppedClosed)
	}
}
