package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/flatheap/ingest"
)

const upstreamInfo = `log_format upstreaminfo
    '$remote_addr - $remote_user [$time_local] "$request" '
    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
    '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr '
    '$upstream_response_length $upstream_response_time $upstream_status $req_id';`

func TestParse_LogFormat(t *testing.T) {
	res := parseCmd(t, "", "--log-format", upstreamInfo, "testdata/upstreaminfo.log")
	checkRun(t, res, 1, 3, true)
	checkFields(t, "line 1", res.objects[0], map[string]any{
		"path": "/api/v1/users/42", "request_time": float64(0.004), "request_length": "312",
		"proxy_upstream_name": "default-api-80", "proxy_alternative_upstream_name": "",
		"upstream_addr": "10.244.1.17:8080", "upstream_response_time": "0.003", "req_id": "5f2b1c9e0d4a4b6c",
		"host": nil, // the format does not log $host
	})
	checkFields(t, "line 2", res.objects[1], map[string]any{
		"request_time": float64(1.25), "upstream_addr": "10.244.1.17:8080, 10.244.2.9:8080",
		"upstream_status": "502, 502", "syslog_host": "web01",
	})

	// A combined line lacks the format's last fields: the error names the
	// literal after the last field it found.
	failedLine(t, res.objects[2], 3, ingest.ErrMissingField)
	if e, _ := res.objects[2]["error"].(string); !strings.Contains(e, "($http_user_agent field)") {
		t.Errorf("line 3: error %q, want it to name ($http_user_agent field)", e)
	}

	// escape=json, verbatim (not quoted) bodies, and "=" flag syntax.
	res = parseCmd(t, `{"t":"2026-10-10T13:55:36+02:00","h":"api.example.com","r":"GET /a?b=\"1\" HTTP/1.1","s":404,"xff":"1.2.3.4"}`+"\n",
		`--log-format=escape=json {"t":"$time_iso8601","h":"$host","r":"$request","s":$status,"xff":"$http_x_forwarded_for"}`)
	checkRun(t, res, 0, 1, true)
	want := map[string]any{
		"remote_addr": "", "remote_user": "", "time": "2026-10-10T13:55:36+02:00", "method": "GET", "path": "/a",
		"query": `b=\"1\"`, "protocol": "HTTP/1.1", "status": float64(404), "body_bytes_sent": float64(0),
		"referer": "", "user_agent": "", "request": `GET /a?b=\"1\" HTTP/1.1`, "host": "api.example.com",
		"http_x_forwarded_for": "1.2.3.4",
	}
	if !maps.Equal(res.objects[0], want) {
		t.Errorf("escape=json: %v, want %v", res.objects[0], want)
	}
}

func TestParse_ApacheFormat(t *testing.T) {
	in := `www.example.com:443 203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "say \"hi\"" 1520` + "\n"
	res := parseCmd(t, in, "--apache-format",
		`%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D`)
	checkRun(t, res, 0, 1, true)
	checkFields(t, "line 1", res.objects[0], map[string]any{
		"host": "www.example.com", "server_port": "443", "remote_logname": "", "remote_user": "frank",
		"bytes_sent": float64(2326), "request_time": float64(0.00152), "user_agent": `say \"hi\"`,
	})
}

func TestParse_FormatFlagErrors(t *testing.T) {
	f := func(stderr string, args ...string) {
		t.Helper()
		res := parseCmd(t, "", args...)
		if res.code != 2 || res.stdout != "" || res.stderr != stderr {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2, nothing, %q", args, res.code, res.stdout, res.stderr, stderr)
		}
	}
	f("ingest parse: --format and --log-format cannot be used together\n",
		"--format", "common", "--log-format", "$status")
	f("ingest parse: --apache-format and --log-format cannot be used together\n",
		"--apache-format", "%s", "--log-format", "$status")
	f("ingest parse: --log-format: ingest: bad format at offset 7: variables $status and $body_bytes_sent have nothing between them that could separate them\n",
		"--log-format", "$status$body_bytes_sent")
	f(`ingest parse: --log-format: ingest: bad format at offset 7: unknown escape="xml": want default, json or none`+"\n",
		"--log-format", "escape=xml $status")
	f(`ingest parse: --apache-format: ingest: bad format at offset 3: unsupported directive "%{%Y}t"`+"\n",
		"--apache-format", "%h %{%Y}t")
	f("ingest parse: --log-format: ingest: bad format at offset 0: empty format\n", "--log-format", "")
}
