package forward

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestVictoriaLogs_JSONLine sends e2eLines lines with 2 KiB paths at
// 20,000/s to a real VictoriaLogs and reads them back: every line once,
// and a sample field by field.
func TestVictoriaLogs_JSONLine(t *testing.T) {
	vl := startVictoriaLogs(t)
	testE2E(t, vl, "jsonline+http://"+vl.Addr+"/insert/jsonline")
}

// TestVictoriaLogs_Bulk does the same through the _bulk endpoint.
func TestVictoriaLogs_Bulk(t *testing.T) {
	vl := startVictoriaLogs(t)
	testE2E(t, vl, "es+http://"+vl.Addr+"/insert/elasticsearch/nginx?_time_field=@timestamp&_msg_field=message&_stream_fields=vhost,route")
}

func testE2E(t *testing.T, vl *victoriaLogs, sinkURL string) {
	fw, err := New([]string{sinkURL}, Options{BatchBytes: batchBytesEnv(), Senders: sendersEnv(), Logger: quiet, Static: []Field{{"instance", "test-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	fd := feeder{fw: fw, format: mustFormat(t), base: time.Now().Add(-time.Hour).Truncate(time.Second)}
	start := time.Now()
	fd.send(t, 0, e2eLines, e2eRate, e2ePath)
	took := time.Since(start)
	shutdown(t, fw)
	st := fw.Stats().Sinks[0]
	t.Logf("%d lines in %v; %+v", e2eLines, took, st)
	ensure(t, st.Sent == uint64(e2eLines) && st.Dropped == 0 && st.Rejected == 0, "stats %+v", st)
	n, uniq := vl.waitCount("*", e2eLines)
	ensure(t, n == e2eLines && uniq == e2eLines, "stored %d logs, %d distinct, want %d", n, uniq, e2eLines)
	ensure(t, fw.Stats().BudgetBytes == 0, "budget holds %d bytes after Shutdown", fw.Stats().BudgetBytes)

	// Field by field for a sample spread over the lines.
	for _, i := range []int{0, 1, 2, 3, e2eLines / 20, e2eLines * 7 / 9, e2eLines - 1} {
		rows := vl.Query(fmt.Sprintf(`request_id:=%q | fields _time, _msg, method, path, query, status, route, vhost, request_time, upstream_response_time, remote_addr, user_agent, instance, body_bytes_sent`, requestID(i)))
		ensure(t, len(rows) == 1, "line %d: %d rows", i, len(rows))
		checkRow(t, i, fd.base, rows[0])
	}
}

// checkRow compares a stored log with line i.
func checkRow(t *testing.T, i int, base time.Time, row map[string]string) {
	t.Helper()
	line := string(appendLine(nil, i, base.Add(time.Duration(i)*time.Millisecond), e2ePath))
	wantTime := base.Add(time.Duration(i) * time.Millisecond).Truncate(time.Second).UTC().Format(time.RFC3339Nano)
	path := string(appendPath(nil, i, e2ePath))
	want := map[string]string{
		"_time":                  wantTime,
		"_msg":                   line,
		"method":                 [...]string{"GET", "POST", "PUT", "DELETE"}[i%4],
		"path":                   path,
		"query":                  fmt.Sprintf("page=%d", i%10),
		"status":                 fmt.Sprint([...]int{200, 201, 404, 503}[i%4]),
		"route":                  "/api/v1/users/{id}/orders/" + path[len(fmt.Sprintf("/api/v1/users/%d/orders/", i)):][:0] + routeTail(path, i),
		"vhost":                  fmt.Sprintf("api%d.example.com", i%3),
		"request_time":           trimSeconds(fmt.Sprintf("0.%03d", i%1000)),
		"upstream_response_time": fmt.Sprintf("0.%03d, 0.%03d", i%997, i%13),
		"remote_addr":            fmt.Sprintf("203.0.113.%d", i%250),
		"user_agent":             fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) test/%d", i%7),
		"instance":               "test-1",
		"body_bytes_sent":        fmt.Sprint(100 + i%1000),
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("line %d: %s = %.120q, want %.120q", i, k, row[k], v)
		}
	}
}

// routeTail is the route's part after /orders/ as the templater makes it.
func routeTail(path string, i int) string {
	r, err := defaultRoutes()
	if err != nil {
		panic(err)
	}
	full := r.Route([]byte([...]string{"GET", "POST", "PUT", "DELETE"}[i%4]), []byte(path))
	return full[len("/api/v1/users/{id}/orders/"):]
}

// trimSeconds writes a decimal as appendSeconds does.
func trimSeconds(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

func batchBytesEnv() int { n, _ := strconv.Atoi(os.Getenv("FW_BATCH")); return n }
func sendersEnv() int    { n, _ := strconv.Atoi(os.Getenv("FW_SENDERS")); return n }
