package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/cmd/ingest/internal/loadgen"
	"github.com/flatheap/ingest/cmd/ingest/internal/udptest"
	"github.com/flatheap/ingest/heapwatch"
)

// TestSoakShort runs a short soak of the default scenario with the ingest
// and naive receivers in child processes (the test binary, see TestMain)
// and checks the verdicts, the exit status, the CSV and the PNG.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 11 seconds")
	}
	t.Setenv("INGEST_TEST_RUN_MAIN", "1") // for the children
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := runSoak([]string{"--duration", "10s", "--warmup", "4s", "--interval", "200ms", "--table", "2s",
		"--receivers", "ingest,naive", "--printheap", "--out", out}, nil, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^  ingest: +flat over `, stdout.String())
	assert.Regexp(t, `(?m)^  naive: +growing: `, stdout.String())
	// 1,500 lines/s for 10s, or longer while a verdict was undecided (at
	// most --extend, 6s), less what a busy machine may cost the pacing.
	m := regexp.MustCompile(`(?m)^sent (\d+) lines in (\d+) datagrams to each receiver in [^ ]+ \((\d+) lines/s\)`).FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "the sent line")
	lines, _ := strconv.Atoi(m[1])
	rate, _ := strconv.Atoi(m[3])
	assert.Equal(t, m[1], m[2], "one line per datagram")
	assert.True(t, lines >= 13000 && lines <= 24000 && rate >= 1300 && rate <= 1510, "%d lines at %d lines/s", lines, rate)

	f, err := os.Open(filepath.Join(out, "long-paths.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 80, "two receivers sampled 5 times a second for 10s, plus the header")
	assert.Equal(t, "seconds", rows[0][0])
	assert.Regexp(t, `(?m)^time +receiver +lines .* GCs +Mallocs +Frees +HeapObjects$`, stdout.String())
	col := func(name string) int {
		i := slices.Index(rows[0], name)
		require.GreaterOrEqual(t, i, 0, "column %s", name)
		return i
	}
	mallocs, frees, objects, budgets := col("memstats_mallocs"), col("memstats_frees"), col("memstats_heap_objects"), col("budgets")
	per := map[string]int{}
	for _, r := range rows[1:] {
		per[r[1]]++
		m, err := strconv.ParseUint(r[mallocs], 10, 64)
		require.NoError(t, err)
		f, err := strconv.ParseUint(r[frees], 10, 64)
		require.NoError(t, err)
		o, err := strconv.ParseUint(r[objects], 10, 64)
		require.NoError(t, err)
		assert.Equal(t, m-f, o, "HeapObjects is Mallocs - Frees")
		if r[1] == "ingest" {
			assert.Regexp(t, `^interner=[0-9]+/[0-9]+:[0-9]+/65536 paths=[0-9]+/[0-9]+:[0-9]+/10000$`, r[budgets])
		} else {
			assert.Empty(t, r[budgets])
		}
	}
	assert.Len(t, per, 2)

	p, err := os.Open(filepath.Join(out, "long-paths.png"))
	require.NoError(t, err)
	defer p.Close()
	img, err := png.Decode(p)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 500)
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
	require.Len(t, lines, 3)
	for _, l := range lines[1:] {
		assert.Len(t, l, len(lines[0]), "%q", l)
	}
	// Each right-aligned column ends where its header ends.
	for i, name := range []string{"lines", "GCs", "HeapObjects"} {
		end := strings.Index(lines[0], name) + len(name)
		v := []string{short[2], short[10], short[13]}[i]
		assert.Equal(t, v, lines[1][end-len(v):end], "column %s", name)
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
		assert.Equal(t, 2, runSoak(args, nil, &stdout, &stderr), "%v", args)
		assert.Contains(t, stderr.String(), "ingest soak: ", "%v", args)
	}
}

// runReceiver runs the named receiver on a loopback socket, sends it the
// load, waits until it has handled every line, and returns it with the
// send result; the receiver is stopped at the end of the test.
func runReceiver(t *testing.T, name string, o receiverOptions, load loadgen.Config) (soakReceiver, loadgen.Result) {
	t.Helper()
	rcv, err := soakReceivers[name](o)
	require.NoError(t, err)
	conn := udptest.Listen(t, "udp4", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rcv.run(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	load.Targets = []string{conn.LocalAddr().String()}
	res, err := loadgen.Send(context.Background(), load, nil)
	require.NoError(t, err)
	require.Zero(t, res.SendErrors)
	require.Eventually(t, func() bool {
		lines, _ := rcv.counts()
		return lines == res.Lines
	}, 5*time.Second, 5*time.Millisecond, "the receiver handled every line")
	return rcv, res
}

// TestIngestReceiver_Routes checks that the ingest receiver counts route
// traffic in its route store, exactly per route, and reports its three
// budgets.
func TestIngestReceiver_Routes(t *testing.T) {
	rcv, res := runReceiver(t, "ingest", receiverOptions{maxPaths: 100, routes: true},
		loadgen.Config{Count: 3000, Rate: 30000, Routes: true, Unique: 0.1, Seed: 4})
	ir := rcv.(*ingestReceiver)
	var b bytes.Buffer
	require.NoError(t, ir.store.WritePrometheus(&b))
	perRoute := map[string]int64{}
	re := regexp.MustCompile(`(?m)^http_requests_total\{[^}]*route="([^"]*)"[^}]*\} ([0-9]+)$`)
	for _, m := range re.FindAllStringSubmatch(b.String(), -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		require.NoError(t, err)
		perRoute[m[1]] += n
	}
	var templated int64
	for _, rc := range res.Routes {
		assert.Equal(t, rc.Lines, perRoute[rc.Route], "route %s", rc.Route)
		templated += perRoute[rc.Route]
	}
	var all int64
	for _, n := range perRoute {
		all += n
	}
	assert.Equal(t, res.Lines, all, "every line counted once")
	assert.Equal(t, res.Junk, all-templated, "the junk paths count under routes of their own")

	m := heapwatch.New(heapwatch.Config{})
	require.NoError(t, rcv.track(m))
	var names []string
	for _, bs := range m.Budgets() {
		names = append(names, bs.Name)
		assert.Positive(t, bs.LimitBytes, bs.Name)
		assert.LessOrEqual(t, bs.Bytes, bs.LimitBytes, bs.Name)
	}
	assert.Equal(t, []string{"interner", "paths", "routes"}, names)
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
	assert.Equal(t, int(keys), len(series))
	assert.Greater(t, len(series), int(res.Lines)*3/4, "random IDs make most paths new")
	assert.Contains(t, b.String(), `http_request_duration_seconds_bucket{path="`)
	assert.Equal(t, `m{path="/a\"b\\c"}`, seriesName("m", []byte(`/a"b\c`)))
}

// TestTrackedEstimates checks the ingest receiver's budget estimates
// against the live heap that an Interner and a pathTable take when they
// fill with paths of a few lengths.
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
		in := ingest.NewInterner(soakInterner)
		tab := newPathTable(in, n)
		path := func(i int) []byte {
			p := fmt.Appendf(nil, "/u%016x/", i)
			for len(p) < plen {
				p = append(p, 'a'+byte(len(p)%26))
			}
			return p
		}
		before := live()
		var r ingest.Request
		for i := range n {
			r.Path = path(i)
			tab.add(&r) // a first sighting: counted under <other>
			tab.add(&r) // stored now, and given its entry
		}
		grown := live() - before
		st := in.Stats()
		// The Interner admits a second sighting almost always, not always
		// (its frequency sketch can lose one to a collision).
		require.GreaterOrEqual(t, st.Entries, n*99/100, "path length %d", plen)
		require.GreaterOrEqual(t, tab.len(), n*99/100)
		est := internerBytes(st.Bytes, st.Entries) + int64(tab.len())*pathEntryBytes
		assert.InEpsilon(t, grown, est, 0.15, "path length %d: grew %d, estimated %d", plen, grown, est)
		runtime.KeepAlive(tab)
	}
}

// TestTrackedEstimates_Evicted checks the ingest receiver's budgets once
// the Interner has evicted paths that the path table still keeps as keys:
// those keys stay alive through the table alone, and the paths budget must
// count them, or the heap they hold grows outside every declared budget.
func TestTrackedEstimates_Evicted(t *testing.T) {
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	path := func(set byte, i int) []byte {
		// One slash, 600 bytes: shortened to the Interner's MaxLen, 495
		// bytes of prefix and a checksum.
		p := fmt.Appendf(nil, "/%c%016x-", set, i)
		for len(p) < 600 {
			p = append(p, 'a'+byte(len(p)%26))
		}
		return p
	}
	const n = 4000
	in := ingest.NewInterner(soakInterner)
	ir := &ingestReceiver{paths: in, table: newPathTable(in, n)}
	m := heapwatch.New(heapwatch.Config{})
	require.NoError(t, ir.track(m))
	tracked := func() int64 {
		var sum int64
		for _, b := range m.Budgets() {
			sum += b.Bytes
		}
		return sum
	}

	before, trackedBefore := live(), tracked()
	var r ingest.Request
	for i := range n {
		r.Path = path('a', i)
		ir.table.add(&r) // a first sighting, counted under <other>
		ir.table.add(&r) // stored now, and given its entry
	}
	keys, orphans, _ := ir.orphans()
	require.Equal(t, n, keys)
	require.Zero(t, orphans)
	if est, grown := tracked()-trackedBefore, live()-before; !assert.InEpsilon(t, grown, est, 0.15) {
		t.Logf("before eviction: grew %d, tracked %d", grown, est)
	}
	// Other paths fill the Interner past its byte budget, so that it
	// evicts most of the table's keys.
	for i := range 20000 {
		b := path('b', i)
		for range 4 { // seen more often than the table's paths: the Interner prefers them
			in.Intern(b)
		}
	}
	grown, est := live()-before, tracked()-trackedBefore
	keys, orphans, orphanBytes := ir.orphans()
	t.Logf("grew %d, tracked %d; %d keys only the table holds (%d bytes); interner %+v", grown, est, orphans, orphanBytes, in.Stats())
	require.Equal(t, n, keys)
	require.Greater(t, orphans, n/2, "the Interner evicted most of the table's keys")
	assert.InEpsilon(t, grown, est, 0.15, "grew %d, tracked %d (%d keys only the table holds, %d bytes)", grown, est, orphans, orphanBytes)
	runtime.KeepAlive(ir)
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
	f := func(want int, runs ...*soakRun) {
		t.Helper()
		var out bytes.Buffer
		s := &soaker{duration: time.Minute, warmup: 15 * time.Second, extend: 45 * time.Second, maxMemory: 4 << 30, stdout: &out, runs: runs}
		assert.Equal(t, want, s.verdicts(), out.String())
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
	s := &soaker{duration: time.Minute, warmup: 15 * time.Second, extend: 45 * time.Second, maxMemory: 4 << 30, stdout: &out,
		runs: []*soakRun{run("ingest", undecided)}}
	assert.Equal(t, 3, s.verdicts())
	assert.Contains(t, out.String(), "ingest's verdict is undecided after 0s of load past --duration (--extend 45s)")
	assert.Contains(t, s.undecided(), "ingest: unknown: 5 samples in the window, need 10")
	s.runs = []*soakRun{run("ingest", flat)}
	assert.Empty(t, s.undecided())
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
	assert.Equal(t, 80, r.Samples)
	assert.Equal(t, heapwatch.Unknown, r.Growth, "over the whole run: %s", r)
	s.extended = 35 * time.Second
	r = s.report(&soakRun{name: "ingest", rows: rows})
	assert.Equal(t, heapwatch.PerKey, r.Growth, "over the newest 45s: %s", r)
	assert.LessOrEqual(t, r.Window, 45*time.Second)
}
