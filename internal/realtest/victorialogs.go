package realtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// VictoriaLogsBin is where `go install
// github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2` puts
// VictoriaLogs; $VICTORIA_LOGS overrides it.
const VictoriaLogsBin = "/root/go/bin/victoria-logs"

// VictoriaLogs is a VictoriaLogs process a test started, on a loopback
// port and a data directory of the test.
type VictoriaLogs struct {
	t    testing.TB
	bin  string
	dir  string
	Addr string // host:port of its HTTP API
	proc *Proc
}

// StartVictoriaLogs starts VictoriaLogs on a free loopback port with a
// data directory of the test, and waits until it answers /health. It is
// stopped, by its process id, at the end of the test. It skips t when
// VictoriaLogs is missing, or fails it when CI=true.
func StartVictoriaLogs(t testing.TB) *VictoriaLogs {
	t.Helper()
	bin := VictoriaLogsBin
	if p := os.Getenv("VICTORIA_LOGS"); p != "" {
		bin = p
	}
	Need(t, bin, "VictoriaLogs")
	vl := &VictoriaLogs{t: t, bin: bin, dir: t.TempDir(), Addr: "127.0.0.1:" + strconv.Itoa(FreePort(t))}
	vl.Start()
	return vl
}

// Start starts VictoriaLogs again after Stop, on the same port and data.
// Its in-memory data is flushed every second, and it keeps logs of any
// time.
func (vl *VictoriaLogs) Start() {
	t := vl.t
	t.Helper()
	vl.proc = Start(t, syscall.SIGTERM, nil, vl.bin,
		"-httpListenAddr", vl.Addr,
		"-storageDataPath", vl.dir,
		"-loggerLevel", "ERROR",
		"-inmemoryDataFlushInterval", "1s",
		"-retentionPeriod", "100y",
		"-futureRetention", "100y")
	deadline := time.Now().Add(Timeout)
	for {
		resp, err := http.Get("http://" + vl.Addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		vl.proc.Check(t)
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaLogs did not start: %v\n%s", err, vl.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops VictoriaLogs with SIGTERM, by its process id; it writes what
// it holds to disk first.
func (vl *VictoriaLogs) Stop() {
	if vl.proc != nil {
		vl.proc.Stop()
	}
}

// Pid returns the process id.
func (vl *VictoriaLogs) Pid() int { return vl.proc.Pid() }

// Query runs a LogsQL query over the HTTP API and returns its rows, one
// map of field to value each.
func (vl *VictoriaLogs) Query(q string) []map[string]string {
	t := vl.t
	t.Helper()
	client := http.Client{Timeout: Timeout}
	resp, err := client.PostForm("http://"+vl.Addr+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("query %q: %s: %s", q, resp.Status, b)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("query %q: %v: %s", q, err, sc.Bytes())
		}
		rows = append(rows, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return rows
}

// Flush makes what VictoriaLogs received searchable.
func (vl *VictoriaLogs) Flush() {
	client := http.Client{Timeout: Timeout}
	resp, err := client.Get("http://" + vl.Addr + "/internal/force_flush")
	if err == nil {
		resp.Body.Close()
	}
}

// Stats flushes, runs filter | stats with the given pipe functions
// ("count() as n, count_uniq(path) as u"), and returns its one row.
func (vl *VictoriaLogs) Stats(filter, funcs string) map[string]string {
	vl.t.Helper()
	vl.Flush()
	rows := vl.Query(filter + " | stats " + funcs)
	if len(rows) != 1 {
		vl.t.Fatalf("%s | stats %s: %v", filter, funcs, rows)
	}
	return rows[0]
}

// Count returns the number of logs that match filter.
func (vl *VictoriaLogs) Count(filter string) int {
	vl.t.Helper()
	n, err := strconv.Atoi(vl.Stats(filter, "count() as n")["n"])
	if err != nil {
		vl.t.Fatalf("count of %s: %v", filter, err)
	}
	return n
}
