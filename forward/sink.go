package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest"
)

// sinkKind is the protocol of a sink.
type sinkKind uint8

const (
	kindJSONLine sinkKind = iota
	kindES
	kindKafka
)

// sink is one destination: its wire format, queue, senders and counters.
type sink struct {
	f     *Forwarder
	name  string // the URL without credentials, query or fragment
	kind  sinkKind
	wire  wire
	codec codecKind
	c     counters

	queue  chan *batch
	queued atomic.Int64

	// HTTP sinks.
	url        string
	user, pass string
	hasAuth    bool
	client     *http.Client

	kafka *kafkaSink

	lastLog atomic.Int64 // unix nanoseconds of the last refusal logged
}

// newSink parses a sink URL.
func newSink(f *Forwarder, raw string) (*sink, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, configError("sink URL", redact(raw), "want jsonline+http://, es+http:// (or https) or kafka://")
	}
	s := &sink{f: f}
	if scheme == "kafka" {
		s.kind = kindKafka
		s.wire = newWire(nil, "time", "message", f.opt.Time == TimeUnixNano)
		s.name = "kafka://" + rest
		if i := strings.IndexAny(s.name[len("kafka://"):], "?#"); i >= 0 {
			s.name = s.name[:len("kafka://")+i]
		}
		k, err := newKafkaSink(s, rest)
		if err != nil {
			return nil, err
		}
		s.kafka = k
		return s, nil
	}
	proto, httpScheme, ok := strings.Cut(scheme, "+")
	if !ok || (httpScheme != "http" && httpScheme != "https") {
		return nil, configError("sink URL", redact(raw), "want jsonline+http://, es+http:// (or https) or kafka://")
	}
	u, err := url.Parse(httpScheme + "://" + rest)
	if err != nil || u.Host == "" {
		return nil, configError("sink URL", redact(raw), "not a URL with a host")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		s.hasAuth = true
		u.User = nil
	}
	q := u.Query()
	codec := f.opt.Compression
	if c := q.Get("compress"); c != "" {
		codec = c
		q.Del("compress")
	}
	u.Fragment = ""
	switch proto {
	case "jsonline":
		s.kind = kindJSONLine
		s.wire = newWire(nil, "_time", "_msg", f.opt.Time == TimeUnixNano)
		if !q.Has("_stream_fields") && len(f.opt.StreamFields) > 0 {
			q.Set("_stream_fields", strings.Join(f.opt.StreamFields, ","))
		}
		if codec == "" {
			codec = "gzip"
		}
	case "es":
		s.kind = kindES
		dir, index := "", strings.TrimSuffix(u.Path, "/")
		if i := strings.LastIndexByte(index, '/'); i >= 0 {
			dir, index = index[:i], index[i+1:]
		}
		if index == "" || index == "_bulk" {
			return nil, configError("sink URL", redact(raw), "an es URL ends in the index: es+http://host:9200/INDEX")
		}
		prefix := []byte(`{"create":{"_index":`)
		prefix = ingest.AppendJSONString(prefix, index)
		prefix = append(prefix, "}}\n"...)
		s.wire = newWire(prefix, "@timestamp", "message", false)
		u.Path = dir + "/_bulk"
		u.RawPath = ""
		if codec == "" {
			codec = "gzip"
		}
	default:
		return nil, configError("sink URL", redact(raw), "unknown sink "+strconv.Quote(proto)+": want jsonline or es")
	}
	k, ok := parseCodec(codec)
	if !ok {
		return nil, configError("sink URL", redact(raw), "compress="+strconv.Quote(codec)+": want gzip, zstd or none")
	}
	s.codec = k
	name := *u
	name.RawQuery = ""
	s.name = proto + "+" + name.String()
	if proto == "es" {
		s.name = proto + "+" + httpScheme + "://" + u.Host + dirIndex(u.Path, raw)
	}
	u.RawQuery = q.Encode()
	s.url = u.String()
	s.client = f.opt.Client
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: f.opt.Senders,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}}
	}
	s.queue = make(chan *batch, int(f.opt.MaxBytes/minBatchCharge))
	return s, nil
}

// dirIndex returns the path of an es sink's URL as given: the _bulk
// directory and the index.
func dirIndex(bulkPath, raw string) string {
	dir := strings.TrimSuffix(bulkPath, "/_bulk")
	rest := raw[strings.Index(raw, "://")+3:]
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	index := strings.TrimSuffix(rest, "/")
	index = index[strings.LastIndexByte(index, '/')+1:]
	return dir + "/" + index
}

// redact removes the password from a URL for an error message.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if at := strings.LastIndexByte(raw, '@'); at >= 0 {
			return "***@" + raw[at+1:]
		}
		return raw
	}
	at := strings.IndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at < 0 || (slash >= 0 && at > slash) {
		return raw
	}
	return scheme + "://***@" + rest[at+1:]
}

// start starts the sink's senders.
func (s *sink) start() {
	if s.kafka != nil {
		return
	}
	for range s.f.opt.Senders {
		s.f.senders.Add(1)
		go s.run()
	}
}

// endIntake tells the sink no batch will come any more.
func (s *sink) endIntake() {
	if s.kafka != nil {
		s.f.senders.Add(1)
		go func() {
			defer s.f.senders.Done()
			s.kafka.flush()
		}()
		return
	}
	close(s.queue)
}

// close frees what the sink holds once its senders have returned.
func (s *sink) close() {
	if s.kafka != nil {
		s.kafka.close()
	}
	if s.client != nil && s.f.opt.Client == nil {
		s.client.CloseIdleConnections()
	}
}

// run is a sender: it delivers batches until the queue is closed and
// empty.
func (s *sink) run() {
	defer s.f.senders.Done()
	for b := range s.queue {
		s.deliver(b)
		s.queued.Add(-1)
	}
}

// outcome is what one attempt at a batch came to.
type outcome uint8

const (
	outSent     outcome = iota
	outRetry            // try again, the whole batch or what is left of it
	outRejected         // refused whole: not retried
	outCanceled         // Shutdown's deadline passed
)

// deliver sends b until it is sent or refused, MaxAttempts is reached, or
// Shutdown's deadline passes, and frees it.
func (s *sink) deliver(b *batch) {
	f := s.f
	defer f.free(b)
	for attempt := 1; ; attempt++ {
		if f.sendCtx.Err() != nil {
			s.c.dropped[dropShutdown].Add(uint64(b.records))
			return
		}
		if attempt > 1 {
			s.c.retried.Add(uint64(b.records))
		}
		switch s.attempt(b) {
		case outSent, outRejected:
			return
		case outCanceled:
			s.c.dropped[dropShutdown].Add(uint64(b.records))
			return
		}
		if f.opt.MaxAttempts > 0 && attempt >= f.opt.MaxAttempts {
			s.c.dropped[dropAttempts].Add(uint64(b.records))
			return
		}
		d := min(f.opt.MaxBackoff, f.opt.MinBackoff<<min(attempt-1, 30))
		if d > 1 {
			d = d/2 + rand.N(d/2)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-f.sendCtx.Done():
			t.Stop()
			s.c.dropped[dropShutdown].Add(uint64(b.records))
			return
		}
	}
}

// maxErrBody bounds the part of an error answer read for the log.
const maxErrBody = 1 << 10

// attempt posts b once and counts what came of it. After outRetry, b may
// hold fewer records than before (a _bulk answer that refused some and
// asked to retry others).
func (s *sink) attempt(b *batch) outcome {
	f := s.f
	ctx, cancel := context.WithTimeout(f.sendCtx, f.opt.Timeout)
	defer cancel()
	body := b.body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		s.c.rejected.Add(uint64(b.records))
		s.c.batchesRejected.Add(1)
		s.logRefusal("cannot make the request", slog.String("error", err.Error()))
		return outRejected
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if b.wire != nil {
		req.Header.Set("Content-Encoding", codecNames[s.codec])
	}
	if s.hasAuth {
		req.SetBasicAuth(s.user, s.pass)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.c.observe(time.Since(start))
		if f.sendCtx.Err() != nil {
			return outCanceled
		}
		s.c.retries[retryNetwork].Add(1)
		return outRetry
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}()
	switch st := resp.StatusCode; {
	case st >= 200 && st < 300:
		if s.kind == kindES {
			out := s.bulkAnswer(b, resp.Body, len(body))
			s.c.observe(time.Since(start))
			return out
		}
		s.c.observe(time.Since(start))
		s.sent(b, len(body))
		return outSent
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		s.c.observe(time.Since(start))
		s.c.retries[retryStatus].Add(1)
		return outRetry
	default:
		s.c.observe(time.Since(start))
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
		s.c.rejected.Add(uint64(b.records))
		s.c.batchesRejected.Add(1)
		s.logRefusal("the store refused a batch", slog.Int("status", st),
			slog.Int("records", b.records), slog.String("answer", string(msg)))
		return outRejected
	}
}

func (s *sink) sent(b *batch, wireBytes int) {
	s.c.sent.Add(uint64(b.records))
	s.c.batches.Add(1)
	s.c.bytes.Add(uint64(wireBytes))
}

// logRefusal logs a refusal or a sink error, at most once a second per
// sink; every refusal is counted whether logged or not.
func (s *sink) logRefusal(msg string, attrs ...slog.Attr) {
	now := time.Now().UnixNano()
	last := s.lastLog.Load()
	if now-last < int64(time.Second) || !s.lastLog.CompareAndSwap(last, now) {
		return
	}
	args := make([]any, 0, len(attrs)+1)
	args = append(args, slog.String("sink", s.name))
	for _, a := range attrs {
		args = append(args, a)
	}
	s.f.opt.Logger.Warn("forward: "+msg, args...)
}

// bulkAnswer reads a 2xx _bulk answer: when it reports errors, items with
// status 429 or 5xx are kept in b to be retried, the others refused are
// counted and logged, and the rest counted as sent.
func (s *sink) bulkAnswer(b *batch, body io.Reader, wireBytes int) outcome {
	statuses, reason, err := readBulk(body, b.records)
	if err != nil || statuses == nil {
		if err != nil {
			s.logRefusal("cannot read the _bulk answer; counting the batch as sent", slog.String("error", err.Error()))
		}
		s.sent(b, wireBytes)
		return outSent
	}
	var retry []int
	ok, refused := 0, 0
	for i, st := range statuses {
		switch {
		case st >= 200 && st < 300:
			ok++
		case st == http.StatusTooManyRequests || st >= 500:
			retry = append(retry, i)
		default:
			refused++
		}
	}
	// Items the answer does not list are taken as sent: the store
	// answered 2xx for the request.
	ok += b.records - len(statuses)
	s.c.sent.Add(uint64(ok))
	s.c.bytes.Add(uint64(wireBytes))
	s.c.rejected.Add(uint64(refused))
	if refused > 0 {
		s.logRefusal("the store refused records", slog.Int("refused", refused),
			slog.Int("records", b.records), slog.String("reason", reason))
	}
	if len(retry) == 0 {
		s.c.batches.Add(1)
		return outSent
	}
	if err := s.keep(b, retry); err != nil {
		s.c.dropped[dropAttempts].Add(uint64(len(retry)))
		s.logRefusal("cannot rebuild a batch to retry", slog.String("error", err.Error()))
		b.records = 0
		return outSent
	}
	s.c.retries[retryStatus].Add(1)
	return outRetry
}

// keep rebuilds b with only the records whose indexes are in idx
// (ascending). The es body is an action line and a document line per
// record; neither holds a raw '\n'.
func (s *sink) keep(b *batch, idx []int) error {
	raw := b.raw
	if b.wire != nil {
		var err error
		if raw, err = s.codec.decompress(b.wire); err != nil {
			return err
		}
	}
	out := make([]byte, 0, len(raw))
	k, rec := 0, 0
	for len(raw) > 0 && k < len(idx) {
		end := 0
		for range 2 {
			i := bytes.IndexByte(raw[end:], '\n')
			if i < 0 {
				end = len(raw)
				break
			}
			end += i + 1
		}
		if rec == idx[k] {
			out = append(out, raw[:end]...)
			k++
		}
		raw = raw[end:]
		rec++
	}
	if k != len(idx) {
		return errors.New("forward: fewer records in the body than in the answer")
	}
	f := s.f
	if b.wire != nil {
		w := s.codec.compress(out)
		f.budget.force(int64(cap(w) - cap(b.wire)))
		b.charge += int64(cap(w) - cap(b.wire))
		s.codec.free(b.wire)
		b.wire = w
	} else {
		// b.raw is a pooled buffer of BatchBytes: copy the kept records
		// back into it.
		b.raw = append(b.raw[:0], out...)
	}
	b.records = len(idx)
	return nil
}

// readBulk reads the statuses of a _bulk answer's items; nil when the
// answer says "errors":false. reason is the first item error's reason.
func readBulk(r io.Reader, n int) (statuses []int, reason string, err error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, "", errors.New("forward: the _bulk answer is not a JSON object")
	}
	hasErrors := true
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, "", err
		}
		switch t {
		case "errors":
			if err := dec.Decode(&hasErrors); err != nil {
				return nil, "", err
			}
			if !hasErrors {
				return nil, "", nil
			}
		case "items":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil, "", errors.New("forward: _bulk items is not an array")
			}
			statuses = make([]int, 0, n)
			for dec.More() {
				var item map[string]struct {
					Status int `json:"status"`
					Error  *struct {
						Type   string `json:"type"`
						Reason string `json:"reason"`
					} `json:"error"`
				}
				if err := dec.Decode(&item); err != nil {
					return nil, "", err
				}
				st := 0
				for _, v := range item {
					st = v.Status
					if v.Error != nil && reason == "" && (st < 500 && st != 429) {
						reason = v.Error.Type + ": " + v.Error.Reason
					}
				}
				statuses = append(statuses, st)
			}
			if _, err := dec.Token(); err != nil {
				return nil, "", err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, "", err
			}
		}
	}
	if !hasErrors {
		return nil, "", nil
	}
	return statuses, reason, nil
}
