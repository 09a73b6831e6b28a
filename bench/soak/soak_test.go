package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
	"github.com/flatheap/ingest/internal/udptest"
	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

// TestMain runs a receiver instead of the tests when the soak of
// TestSoakShort starts the test binary as its child, so the soak runs its
// receivers without a binary being built.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSoakShort runs a short soak of the default scenario with the ingest
// and naive receivers in child processes (the test binary, see TestMain)
// and checks the verdicts, the exit status, the CSV and the PNG.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 11 seconds")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := runSoak([]string{"--duration", "10s", "--warmup", "4s", "--interval", "200ms", "--table", "2s",
		"--receivers", "ingest,naive", "--printheap", "--out", out}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("code = %v, want 0", code)
	}
	if re := `(?m)^  ingest: +flat over `; !regexp.MustCompile(re).MatchString(stdout.String()) {
		t.Errorf("stdout (logged above) does not match %s", re)
	}
	// The naive receiver grows. The load goes on past --duration only
	// while ingest's verdict is undecided, so on a busy machine, where its
	// rise may look like steps, the naive's verdict may still be unknown
	// at the end: then its live heap must have risen by megabytes.
	naive := regexp.MustCompile(`(?m)^  naive: +(growing: |unknown: live heap rose by ([0-9.]+) MiB)`).FindStringSubmatch(stdout.String())
	switch {
	case naive == nil:
		t.Errorf("stdout (logged above) has no naive verdict of growing, nor unknown after a rise")
	case naive[2] != "":
		if rise, _ := strconv.ParseFloat(naive[2], 64); rise < 4 {
			t.Errorf("naive: undecided after a rise of %v MiB, want growing, or a rise of at least 4 MiB", rise)
		} else {
			t.Logf("naive: undecided after a rise of %v MiB (a busy machine)", rise)
		}
	}
	// 1,500 lines/s for 10s, or longer while a verdict was undecided (at
	// most --extend, 6s), less what a busy machine may cost the pacing.
	m := regexp.MustCompile(`(?m)^sent (\d+) lines in (\d+) datagrams to each receiver in [^ ]+ \((\d+) lines/s\)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatal("stdout (logged above) has no line of what was sent")
	}
	lines, _ := strconv.Atoi(m[1])
	rate, _ := strconv.Atoi(m[3])
	if m[1] != m[2] {
		t.Errorf("one line per datagram: %s lines in %s datagrams", m[1], m[2])
	}
	if lines < 13000 || lines > 24000 || rate < 1300 || rate > 1510 {
		t.Errorf("%d lines at %d lines/s, want 13,000 to 24,000 at 1,300 to 1,510", lines, rate)
	}

	csvText, err := os.ReadFile(filepath.Join(out, "long-paths.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(csvText)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV: %v", err)
	}
	if len(rows) <= 80 {
		t.Fatalf("two receivers sampled 5 times a second for 10s, plus the header: len(rows) = %v, want > 80", len(rows))
	}
	if rows[0][0] != "seconds" {
		t.Errorf("rows[0][0] = %q, want \"seconds\"", rows[0][0])
	}
	if re := `(?m)^time +receiver +lines .* GCs +Mallocs +Frees +HeapObjects$`; !regexp.MustCompile(re).MatchString(stdout.String()) {
		t.Errorf("stdout (logged above) does not match %s", re)
	}
	col := func(name string) int {
		i := slices.Index(rows[0], name)
		if i < 0 {
			t.Fatalf("no column %s", name)
		}
		return i
	}
	mallocs, frees, objects, budgets := col("memstats_mallocs"), col("memstats_frees"), col("memstats_heap_objects"), col("budgets")
	per := map[string]int{}
	for _, r := range rows[1:] {
		per[r[1]]++
		m, err := strconv.ParseUint(r[mallocs], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		f, err := strconv.ParseUint(r[frees], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		o, err := strconv.ParseUint(r[objects], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if o != m-f {
			t.Errorf("HeapObjects is Mallocs - Frees: o = %v, want %v", o, m-f)
		}
		if r[1] == "ingest" {
			if re := `^paths=[0-9]+/[0-9]+:[0-9]+/10000$`; !regexp.MustCompile(re).MatchString(r[budgets]) {
				t.Errorf("r[budgets] = %q, want a match for %s", r[budgets], re)
			}
		} else if r[budgets] != "" {
			t.Errorf("%s: budgets %q, want none", r[1], r[budgets])
		}
	}
	if len(per) != 2 {
		t.Errorf("len(per) = %d, want 2", len(per))
	}

	p, err := os.Open(filepath.Join(out, "long-paths.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	img, err := png.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Dx(); got <= 500 {
		t.Errorf("img.Bounds().Dx() = %v, want > 500", got)
	}
}

// TestSoakTableAligned checks that the table's columns stay aligned as
// numbers grow.
func TestSoakTableAligned(t *testing.T) {
	var b bytes.Buffer
	cols := append(slices.Clip(soakColumns), printHeapColumns...)
	short := []string{"1s", "ingest", "1", "2", "3.0 MiB", "4", "5", "6.0 MiB", "7.0 MiB", "8", "9", "10", "11", "12"}
	long := []string{"59s", "labels", "89999", "76000", "1234.5 MiB", "12345678", "1170", "2345.6 MiB", "2400.0 MiB", "17", "123", "987654321", "987000000", "654321"}
	s := &soaker{stdout: &b, printHeap: true}
	s.printTableHeader()
	writeSoakRow(&b, cols, short)
	writeSoakRow(&b, cols, long)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("len(lines) = %d, want 3", len(lines))
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("%q: len(l) = %d, want %d", l, len(l), len(lines[0]))
		}
	}
	// Each right-aligned column ends where its header ends.
	for i, name := range []string{"lines", "GCs", "HeapObjects"} {
		end := strings.Index(lines[0], name) + len(name)
		v := []string{short[2], short[10], short[13]}[i]
		if lines[1][end-len(v):end] != v {
			t.Errorf("column %s: lines[1][end-len(v):end] = %q, want %q", name, lines[1][end-len(v):end], v)
		}
	}
}

// TestSoakUsage checks the usage errors.
func TestSoakUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nosuch"},
		{"--receivers", "ingest,nosuch"},
		{"--duration", "0s"},
		{"--duration", "10s", "--warmup", "10s"},
		{"extra"},
		{"--scenario", "routes", "--receivers", "labels,bogus"},
	} {
		var stdout, stderr bytes.Buffer
		if got := runSoak(args, &stdout, &stderr); got != 2 {
			t.Errorf("%v: exit status %d, want 2", args, got)
		}
		if got := stderr.String(); !strings.Contains(got, "soak: ") {
			t.Errorf("%v: stderr = %q, want it to contain %q", args, got, "soak: ")
		}
	}
}

// runReceiver runs the named receiver on a loopback socket, sends it the
// load, waits until it has handled every line, and returns it with the
// send result; the receiver is stopped at the end of the test.
func runReceiver(t *testing.T, name string, o receiverOptions, load loadgen.Config) (soakReceiver, loadgen.Result) {
	t.Helper()
	rcv, err := soakReceivers[name](o)
	if err != nil {
		t.Fatal(err)
	}
	conn := udptest.Listen(t, "udp4", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rcv.run(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	load.Targets = []string{conn.LocalAddr().String()}
	res, err := loadgen.Send(context.Background(), load, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.SendErrors != 0 {
		t.Fatalf("res.SendErrors = %v, want 0", res.SendErrors)
	}
	// Wait until the receiver has handled every line.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		lines, _ := rcv.counts()
		if lines == res.Lines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver handled %d lines of %d", lines, res.Lines)
		}
	}
	return rcv, res
}

// TestIngestReceiver_Routes checks that the ingest receiver counts route
// traffic in its route store, exactly per route as the default admission
// counts it, and reports its three budgets. A route (vhost, route,
// method) gets series of its own on its second line: its first counts in
// its vhost's {unadmitted} series, and so does every line of a route seen
// only once, such as a junk path. The truth comes from generating the
// same lines again and parsing them.
func TestIngestReceiver_Routes(t *testing.T) {
	load := loadgen.Config{Count: 3000, Rate: 30000, Routes: true, Unique: 0.1, Seed: 4}
	rcv, res := runReceiver(t, "ingest", receiverOptions{maxPaths: 100, routes: true}, load)
	ir := rcv.(*ingestReceiver)
	var b bytes.Buffer
	if err := ir.store.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	perRoute := map[string]int64{}
	re := regexp.MustCompile(`(?m)^http_requests_total\{[^}]*route="([^"]*)"[^}]*\} ([0-9]+)$`)
	for _, m := range re.FindAllStringSubmatch(b.String(), -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		perRoute[m[1]] += n
	}

	// The lines again, each route's lines per (vhost, method).
	gen, err := loadgen.NewLineGen(load, loadgen.SyslogHostname())
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Parser{Format: ir.format}
	templater, err := route.New(route.Config{})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[[3]string]int64{} // vhost, route, method
	var r ingest.Request
	var line []byte
	for range res.Lines {
		line = gen.AppendLine(line[:0], time.Now())
		if err := p.Parse(&r, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		groups[[3]string{string(r.Host), templater.Route(r.Method, r.Path), string(r.Method)}]++
	}
	wantRoute := map[string]int64{}
	var unadmitted int64
	for g, n := range groups {
		// The first line of a route is counted in {unadmitted}, the
		// others in the route's own series.
		wantRoute[g[1]] += n - 1
		unadmitted++
	}
	var templated int64
	for _, rc := range res.Routes {
		if perRoute[rc.Route] != wantRoute[rc.Route] {
			t.Errorf("route %s: perRoute[rc.Route] = %v, want %v of its %v lines", rc.Route, perRoute[rc.Route], wantRoute[rc.Route], rc.Lines)
		}
		templated += perRoute[rc.Route]
	}
	if perRoute[routemetrics.Unadmitted] != unadmitted {
		t.Errorf("{unadmitted}: %v lines, want %v (one per route)", perRoute[routemetrics.Unadmitted], unadmitted)
	}
	var all int64
	for _, n := range perRoute {
		all += n
	}
	if all != res.Lines {
		t.Errorf("every line counted once: all = %v, want %v", all, res.Lines)
	}
	if st := ir.store.Stats(); st.Overflows != 0 || st.Evicted != 0 || int64(st.Unadmitted) != unadmitted {
		t.Errorf("store stats %+v, want %d unadmitted, no overflow, no eviction", st, unadmitted)
	}
	t.Logf("%d lines, %d of them junk: %d in the templates' own series, %d in {unadmitted} (the first line of each of %d routes)",
		res.Lines, res.Junk, templated, unadmitted, len(groups))

	m := heapwatch.New(heapwatch.Config{})
	if err := rcv.track(m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, bs := range m.Budgets() {
		names = append(names, bs.Name)
		if bs.LimitBytes <= 0 {
			t.Errorf("%v: bs.LimitBytes = %v, want > 0", bs.Name, bs.LimitBytes)
		}
		if bs.Bytes > bs.LimitBytes {
			t.Errorf("%v: bs.Bytes = %v, want <= %v", bs.Name, bs.Bytes, bs.LimitBytes)
		}
	}
	if want := []string{"paths", "routes"}; !slices.Equal(names, want) {
		t.Errorf("budgets %q, want %q", names, want)
	}
}

// TestLabelsReceiver checks that the labels receiver keeps one series per
// distinct raw path.
func TestLabelsReceiver(t *testing.T) {
	rcv, res := runReceiver(t, "labels", receiverOptions{maxPaths: 100, routes: true},
		loadgen.Config{Count: 500, Rate: 20000, Routes: true, Seed: 2})
	lr := rcv.(*labelsReceiver)
	var b bytes.Buffer
	lr.set.WritePrometheus(&b)
	series := regexp.MustCompile(`(?m)^http_requests_total\{path="[^"]+"\} [0-9]+$`).FindAllString(b.String(), -1)
	_, keys := rcv.counts()
	if len(series) != int(keys) {
		t.Errorf("len(series) = %v, want %v", len(series), int(keys))
	}
	if len(series) <= int(res.Lines)*3/4 {
		t.Errorf("random IDs make most paths new: len(series) = %v, want > %v", len(series), int(res.Lines)*3/4)
	}
	if got := b.String(); !strings.Contains(got, `http_request_duration_seconds_bucket{path="`) {
		t.Errorf("b.String() = %q, want it to contain %q", got, `http_request_duration_seconds_bucket{path="`)
	}
	if got := seriesName("m", []byte(`/a"b\c`)); got != `m{path="/a\"b\\c"}` {
		t.Errorf("seriesName of /a\"b\\c = %s, want %s", got, `m{path="/a\"b\\c"}`)
	}
}

// TestTrackedEstimates checks the ingest receiver's budget against the live
// heap its path table takes when it fills with paths of a few lengths, up
// to its entry budget or its byte budget.
func TestTrackedEstimates(t *testing.T) {
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	const n = 8000
	for _, plen := range []int{40, 200, 2048} {
		m := heapwatch.New(heapwatch.Config{})
		before := live()
		rcv, err := newIngestReceiver(receiverOptions{maxPaths: n})
		if err != nil {
			t.Fatal(err)
		}
		ir := rcv.(*ingestReceiver)
		if err := ir.track(m); err != nil {
			t.Fatal(err)
		}
		var r ingest.Request
		for i := range 2 * n {
			p := fmt.Appendf(nil, "/u%016x/", i)
			for len(p) < plen {
				p = append(p, 'a'+byte(len(p)%26))
			}
			r.Path = p
			ir.table.ServeLine(&r)
		}
		grown := live() - before
		var tracked int64
		for _, b := range m.Budgets() {
			tracked += b.Bytes
		}
		if rel := math.Abs(float64(tracked-grown)) / float64(grown); rel > 0.05 {
			t.Errorf("path length %d: grew %d, tracked %d, %.1f%% off; want within 5%%", plen, grown, tracked, 100*rel)
		}
		runtime.KeepAlive(ir)
		runtime.KeepAlive(m)
	}
}

// soakRows returns n rows a second apart from the given second on, with a
// collection before each, whose live heap and objects rise by perSec and
// perSec/100 a second.
func soakRows(from, n int, perSec float64) []soakRow {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	rows := make([]soakRow, n)
	for i := range rows {
		sec := from + i
		live := 20<<20 + perSec*float64(sec)
		rows[i] = soakRow{elapsed: time.Duration(sec) * time.Second, sample: heapwatch.Sample{
			Time: t0.Add(time.Duration(sec) * time.Second), LiveBytes: uint64(live), Objects: uint64(live / 100),
			HeapObjects: uint64(live), Total: uint64(2*live) + 8<<20, HeapReleased: 4 << 20,
			Goroutines: 12, GCCycles: uint64(100 + sec),
		}}
	}
	return rows
}

// TestSoakVerdicts_ExitStatus checks the exit status verdicts returns: 0
// for flat, 1 for growing or stopped, 3 for undecided, the ingest
// receiver's when it ran.
func TestSoakVerdicts_ExitStatus(t *testing.T) {
	flat, growing, undecided := soakRows(15, 46, 0), soakRows(15, 46, 100<<10), soakRows(15, 5, 0)
	newSoaker := func(out *bytes.Buffer, runs ...*soakRun) *soaker {
		return &soaker{duration: time.Minute, warmup: 15 * time.Second, extend: 45 * time.Second, maxMemory: 4 << 30, stdout: out, runs: runs}
	}
	f := func(want int, runs ...*soakRun) {
		t.Helper()
		var out bytes.Buffer
		if got := newSoaker(&out, runs...).verdicts(); got != want {
			t.Errorf("exit status %d, want %d; verdicts:\n%s", got, want, out.String())
		}
	}
	run := func(name string, rows []soakRow) *soakRun { return &soakRun{name: name, rows: rows} }
	f(0, run("ingest", flat), run("naive", growing))
	f(1, run("ingest", growing), run("naive", flat))
	f(3, run("ingest", undecided), run("naive", growing))
	f(1, &soakRun{name: "ingest", rows: flat, stopped: "stopped after 10s"})
	f(1, run("naive", growing), run("views", undecided))
	f(3, run("naive", flat), run("views", undecided))
	f(0, run("naive", flat), run("views", flat))

	var out bytes.Buffer
	s := newSoaker(&out, run("ingest", undecided))
	if got := s.verdicts(); got != 3 {
		t.Errorf("exit status %d, want 3", got)
	}
	if want := "ingest's verdict is undecided after 0s of load past --duration (--extend 45s)"; !strings.Contains(out.String(), want) {
		t.Errorf("verdicts:\n%s\nwant a line %q", out.String(), want)
	}
	if got, want := s.undecided(), "ingest: unknown: 5 samples in the window, need 10"; !strings.Contains(got, want) {
		t.Errorf("undecided() = %q, want it to contain %q", got, want)
	}
	s.runs = []*soakRun{run("ingest", flat)}
	if got := s.undecided(); got != "" {
		t.Errorf("undecided() = %q for a flat run, want \"\"", got)
	}
}

// TestSoakReport_Extended checks that once the load went on past
// --duration, the verdict is judged over the newest (--duration minus
// --warmup) of samples: a climb that began late in the run leaves the whole
// run undecided (it did not persist over it), and the window that slides
// with the extension decides it.
func TestSoakReport_Extended(t *testing.T) {
	rows := soakRows(15, 80, 0)
	for i := range rows[40:] { // from 55 s on, 100 KiB more a second
		add := uint64(i+1) * 100 << 10
		rows[40+i].sample.LiveBytes += add
		rows[40+i].sample.HeapObjects += add
		rows[40+i].sample.Objects += add / 100
		rows[40+i].sample.Total += 2 * add
	}
	s := &soaker{duration: time.Minute, warmup: 15 * time.Second, extend: 45 * time.Second}
	r := s.report(&soakRun{name: "ingest", rows: rows})
	if r.Samples != 80 {
		t.Errorf("r.Samples = %d, want 80", r.Samples)
	}
	if r.Growth != heapwatch.Unknown {
		t.Errorf("over the whole run: %s; want unknown", r)
	}
	s.extended = 35 * time.Second
	r = s.report(&soakRun{name: "ingest", rows: rows})
	if r.Growth != heapwatch.PerKey {
		t.Errorf("over the newest 45s: %s; want growth per key", r)
	}
	if r.Window > 45*time.Second {
		t.Errorf("r.Window = %v, want <= 45s", r.Window)
	}
}

// syncBuffer is a bytes.Buffer that a test reads while runSoak writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSoakInterrupted checks that a soak stopped by SIGINT exits 1, the
// run not being the one asked for, whatever its verdicts: here the ingest
// receiver has too few samples to be judged, which alone would be 3.
func TestSoakInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a soak for a few seconds")
	}
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runSoak([]string{"--duration", "60s", "--interval", "200ms", "--table", "1s",
			"--receivers", "ingest", "--out", t.TempDir()}, &stdout, &stderr)
	}()
	// The table's header is printed once the receivers run and the
	// signal handler is in place.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "receiver"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no table within 30s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}
	time.Sleep(time.Second) // a few samples, fewer than a verdict needs
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(45 * time.Second):
		t.Fatalf("the soak did not end within 45s of SIGINT; stdout:\n%s", stdout.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, re := range []string{`(?m)^  ingest: +unknown`, `(?m)^interrupted before the end of the load: exit status 1$`} {
		if !regexp.MustCompile(re).MatchString(stdout.String()) {
			t.Errorf("stdout (logged above) does not match %s", re)
		}
	}
}
