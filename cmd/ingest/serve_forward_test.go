package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/realtest"
)

func TestParseSize(t *testing.T) {
	f := func(s string, want int64) {
		t.Helper()
		got, err := parseSize(s)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %v, %v, want %v", s, got, err, want)
		}
	}
	f("0", 0)
	f("65536", 65536)
	f("100B", 100)
	f("256MiB", 256<<20)
	f("256mib", 256<<20)
	f("1.5GiB", 3<<29)
	f("64KB", 64000)
	f("2 MB", 2e6)
	f("1TiB", 1<<40)
	f("0.5KiB", 512)
	f("1.0001KiB", 1024) // rounded down

	bad := func(s string) {
		t.Helper()
		if got, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) = %v, want an error", s, got)
		}
	}
	bad("")
	bad("MiB")
	bad("-1")
	bad("1e6")
	bad(".5MiB")
	bad("1..5MiB")
	bad("1.5.2MiB")
	bad("12 parsecs")
	bad("10Mi")
	bad("9999999999TiB")
	bad(strconv.FormatFloat(math.MaxInt64, 'f', 0, 64))
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 1000: "1000B", 1024: "1KiB", 64 << 20: "64MiB", 3 << 29: "1536MiB", 1 << 40: "1TiB", 65537: "65537B",
	} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Errorf("parseSize(formatSize(%d)) = %v, %v", n, back, err)
		}
	}
}

// TestServeForwardFlagErrors: a bad forwarding flag exits 2 with one line
// that names it, and never shows a sink's password.
func TestServeForwardFlagErrors(t *testing.T) {
	const ok = "jsonline+http://127.0.0.1:1/insert/jsonline"
	f := func(want string, args ...string) {
		t.Helper()
		if stderr := wantUsageError(t, want, args...); strings.Contains(stderr, "secret") {
			t.Errorf("%v: stderr = %q shows the password", args, stderr)
		}
	}
	f("--forward", "--forward", "http://127.0.0.1:9428/insert/jsonline")
	f("--forward", "--forward", "jsonline+http://user:secret@127.0.0.1:9428/x?compress=lz4")
	f("--forward", "--forward", "user:secret@127.0.0.1:9428/insert/jsonline")
	f("--forward", "--forward", "es+http://127.0.0.1:9200/")
	f("--forward", "--forward", "kafka://127.0.0.1:9092")
	f("the same sink", "--forward", ok+"?a=1", "--forward", ok+"?a=2")
	f("-forward-buffer", "--forward", ok, "--forward-buffer", "12 parsecs")
	f("--forward-buffer 1KiB", "--forward", ok, "--forward-buffer", "1KiB")
	f("--forward-fields", "--forward", ok, "--forward-fields", "status,,path")
	f("--forward-static", "--forward", ok, "--forward-static", "instance")
	f("--forward-static", "--forward", ok, "--forward-static", "status=1")
	f("--forward-grace", "--forward", ok, "--forward-grace", "0s")
	for _, flag := range [][]string{
		{"--forward-buffer", "1MiB"}, {"--forward-block"}, {"--forward-fields", "path"},
		{"--forward-static", "a=b"}, {"--forward-grace", "1s"},
	} {
		f(flag[0]+" applies to --forward", flag...)
	}
}

// forwardPath is the path of line i: /fw/<i>/ and filler up to n bytes.
func forwardPath(i, n int) string {
	p := "/fw/" + strconv.Itoa(i) + "/"
	const filler = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	b.WriteString(p)
	for b.Len() < n {
		b.WriteByte(filler[(i+b.Len())%len(filler)])
		if b.Len()%64 == 0 {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// TestServeForwardVictoriaLogs runs serve with two sinks on a real
// VictoriaLogs, its JSON-lines endpoint and its Elasticsearch _bulk
// endpoint (told apart by VictoriaLogs' extra_fields), with UDP and a
// tailed file as inputs. Each line sent reaches the store once through
// each sink (count and distinct paths), the route metrics count the same
// lines, the sinks' counters agree, and /metrics is promtool-clean. A
// single line, over UDP or in the file, reaches the store while serve
// runs (the Forwarder flushes on a timer, whatever the input), and the
// lines handed over just before SIGTERM reach it before serve exits.
func TestServeForwardVictoriaLogs(t *testing.T) {
	vl := realtest.StartVictoriaLogs(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	jsonline := "jsonline+http://user:secret@" + vl.Addr + "/insert/jsonline?extra_fields=via=jsonline"
	bulk := "es+http://" + vl.Addr + "/insert/elasticsearch/nginx?_time_field=@timestamp&_msg_field=message&extra_fields=via=es"
	sinks := []string{"jsonline+http://" + vl.Addr + "/insert/jsonline", "es+http://" + vl.Addr + "/insert/elasticsearch/nginx"}
	cmd, udpAddr, httpAddr, stdout, log := startServeLog(t, "--listen", "127.0.0.1:0",
		"--tail", logFile, "--state-dir", filepath.Join(dir, "state"),
		"--forward", jsonline, "--forward", bulk, "--forward-static", "instance=test-1", "--forward-buffer", "32MiB")
	start := log.find("msg=serving")
	if !strings.Contains(start, " forward="+strings.Join(sinks, ",")+" forward_buffer=32MiB forward_block=false") || strings.Contains(start, "secret") {
		t.Errorf("start-up line %q", start)
	}

	// lines are sent in chunks, each once serve counted the one before:
	// a loaded machine then drops none in the kernel.
	const lines, pathLen = 3000, 2048
	conn, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(from, to int) {
		t.Helper()
		base := scrape(t, httpAddr)["ingest_lines_total"]
		for i := from; i < to; i++ {
			if _, err := conn.Write([]byte(serveLine(forwardPath(i, pathLen), 200))); err != nil {
				t.Fatal(err)
			}
			if i%200 == 199 || i == to-1 {
				waitMetric(t, httpAddr, "ingest_lines_total", base+float64(i-from+1))
			}
		}
	}
	send(0, lines)

	// stored waits until the store holds want lines through each sink
	// that match filter, and checks that it holds no more, each path once.
	stored := func(filter string, want int) {
		t.Helper()
		for _, via := range []string{"jsonline", "es"} {
			q := "via:=" + via + " " + filter
			realtest.WaitFor(t, fmt.Sprintf("%d lines of %s", want, q), func() bool { return vl.Count(q) >= want })
			row := vl.Stats(q, "count() as n, count_uniq(path) as u, count_uniq(instance) as i")
			if row["n"] != strconv.Itoa(want) || row["u"] != strconv.Itoa(want) || row["i"] != "1" {
				t.Errorf("%s: %v, want %d lines, each path once, one instance", q, row, want)
			}
		}
	}
	stored(`path:~"^/fw/"`, lines)

	sent := func(sink string) string {
		return `ingest_forward_records_total{sink="` + sink + `",result="sent"}`
	}
	for _, s := range sinks {
		waitMetric(t, httpAddr, sent(s), lines)
	}
	m := scrape(t, httpAddr)
	if got := sumValues(routeTotals(m)); got != lines {
		t.Errorf("route metrics count %v lines, want %d: %v", got, lines, routeTotals(m))
	}
	for _, s := range sinks {
		for _, r := range []string{"dropped", "rejected"} {
			if v := m[`ingest_forward_records_total{sink="`+s+`",result="`+r+`"}`]; v != 0 {
				t.Errorf("%s %s = %v", s, r, v)
			}
		}
	}
	if m[`ingest_budget_limit_bytes{name="forward"}`] != 32<<20 || m["ingest_forward_budget_limit_bytes"] != 32<<20 {
		t.Errorf("the forward budget: %v, %v", m[`ingest_budget_limit_bytes{name="forward"}`], m["ingest_forward_budget_limit_bytes"])
	}
	checkPromtool(t, httpAddr)

	// A trickle: one line over UDP, one in the file, nothing after them.
	sendLines(t, udpAddr, serveLine("/trickle/udp", 200))
	appendLines(t, logFile, "/trickle/file")
	stored(`path:="/trickle/udp"`, 1)
	stored(`path:="/trickle/file"`, 1)

	// The last lines, and SIGTERM as soon as serve has counted them.
	const last = 500
	send(lines, lines+last)
	totals, perInput := stopServe(t, cmd, stdout)
	if totals["lines"] != strconv.Itoa(lines+last+2) {
		t.Errorf("final totals %v", totals)
	}
	for _, s := range sinks {
		c := inputCounts(t, perInput, "forward "+s)
		if c["sent"] != strconv.Itoa(lines+last+2) || c["dropped"] != "0" || c["rejected"] != "0" {
			t.Errorf("final counts of %s: %v", s, c)
		}
	}
	stored(`path:~"^/fw/"`, lines+last)
}

// TestServeForwardStoreDown: with a sink that never answers, SIGTERM
// waits --forward-grace for it, then serve exits 0 with every line
// counted as dropped at the shutdown, after the retries /metrics showed.
func TestServeForwardStoreDown(t *testing.T) {
	port := realtest.FreePort(t) // nothing listens on it
	sink := "jsonline+http://127.0.0.1:" + strconv.Itoa(port) + "/insert/jsonline"
	cmd, udpAddr, httpAddr, stdout := startServe(t, "--forward", sink, "--forward-grace", "1s")
	const lines = 50
	for i := range lines {
		sendLines(t, udpAddr, serveLine("/down/"+strconv.Itoa(i), 200))
	}
	waitMetric(t, httpAddr, "ingest_lines_total", lines)
	realtest.WaitFor(t, "a failed attempt", func() bool {
		return scrape(t, httpAddr)[`ingest_forward_batches_total{sink="`+sink+`",result="failed_network"}`] > 0
	})
	checkPromtool(t, httpAddr)
	began := time.Now()
	totals, perInput := stopServe(t, cmd, stdout)
	if d := time.Since(began); d < time.Second {
		t.Errorf("serve stopped %v after SIGTERM, before --forward-grace passed", d)
	}
	c := inputCounts(t, perInput, "forward "+sink)
	if totals["lines"] != strconv.Itoa(lines) || c["sent"] != "0" || c["dropped"] != strconv.Itoa(lines) || c["dropped_shutdown"] != strconv.Itoa(lines) {
		t.Errorf("final counts %v, %v", totals, c)
	}
}
