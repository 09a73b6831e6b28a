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
	if res.code != 1 {
		t.Fatalf("%v: res.code = %v, want 1", res.stderr, res.code)
	}
	if res.stderr != "" {
		t.Fatalf("res.stderr = %q, want empty", res.stderr)
	}
	if len(res.objects) != 3 {
		t.Fatalf("len(res.objects) = %d, want 3", len(res.objects))
	}

	first := res.objects[0]
	if first["path"] != "/api/v1/users/42" {
		t.Errorf("first[\"path\"] = %v, want /api/v1/users/42", first["path"])
	}
	if first["request_time"] != float64(0.004) {
		t.Errorf("first[\"request_time\"] = %v, want %v", first["request_time"], float64(0.004))
	}
	if first["request_length"] != "312" {
		t.Errorf("first[\"request_length\"] = %v, want 312", first["request_length"])
	}
	if first["proxy_upstream_name"] != "default-api-80" {
		t.Errorf("first[\"proxy_upstream_name\"] = %v, want default-api-80", first["proxy_upstream_name"])
	}
	if first["proxy_alternative_upstream_name"] != "" {
		t.Errorf("first[\"proxy_alternative_upstream_name\"] = %v, want ", first["proxy_alternative_upstream_name"])
	}
	if first["upstream_addr"] != "10.244.1.17:8080" {
		t.Errorf("first[\"upstream_addr\"] = %v, want 10.244.1.17:8080", first["upstream_addr"])
	}
	if first["upstream_response_time"] != "0.003" {
		t.Errorf("first[\"upstream_response_time\"] = %v, want 0.003", first["upstream_response_time"])
	}
	if first["req_id"] != "5f2b1c9e0d4a4b6c" {
		t.Errorf("first[\"req_id\"] = %v, want 5f2b1c9e0d4a4b6c", first["req_id"])
	}
	if _, ok := first["host"]; ok {
		t.Errorf("the format does not log $host: %q in first", "host")
	}

	second := res.objects[1]
	if second["request_time"] != float64(1.25) {
		t.Errorf("second[\"request_time\"] = %v, want %v", second["request_time"], float64(1.25))
	}
	if second["upstream_addr"] != "10.244.1.17:8080, 10.244.2.9:8080" {
		t.Errorf("second[\"upstream_addr\"] = %v, want 10.244.1.17:8080, 10.244.2.9:8080", second["upstream_addr"])
	}
	if second["upstream_status"] != "502, 502" {
		t.Errorf("second[\"upstream_status\"] = %v, want 502, 502", second["upstream_status"])
	}
	if second["syslog_host"] != "web01" {
		t.Errorf("second[\"syslog_host\"] = %v, want web01", second["syslog_host"])
	}

	// A combined line lacks the format's last fields.
	failedLine(t, res.objects[2], 3, ingest.ErrMissingField)
	// The literal after it is missing.
	if e, _ := res.objects[2]["error"].(string); !strings.Contains(e, "($http_user_agent field)") {
		t.Errorf("error %q, want it to name ($http_user_agent field)", res.objects[2]["error"])
	}

	// escape=json, verbatim (not quoted) bodies, and "=" flag syntax.
	res = parseCmd(t, `{"t":"2026-10-10T13:55:36+02:00","h":"api.example.com","r":"GET /a?b=\"1\" HTTP/1.1","s":404,"xff":"1.2.3.4"}`+"\n",
		`--log-format=escape=json {"t":"$time_iso8601","h":"$host","r":"$request","s":$status,"xff":"$http_x_forwarded_for"}`)
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 1 {
		t.Fatalf("len(res.objects) = %d, want 1", len(res.objects))
	}
	want := map[string]any{
		"remote_addr": "", "remote_user": "", "time": "2026-10-10T13:55:36+02:00", "method": "GET", "path": "/a",
		"query": `b=\"1\"`, "protocol": "HTTP/1.1", "status": float64(404), "body_bytes_sent": float64(0),
		"referer": "", "user_agent": "", "request": `GET /a?b=\"1\" HTTP/1.1`, "host": "api.example.com",
		"http_x_forwarded_for": "1.2.3.4",
	}
	if !maps.Equal(res.objects[0], want) {
		t.Errorf("got %v, want %v", res.objects[0], want)
	}
}

func TestParse_ApacheFormat(t *testing.T) {
	in := `www.example.com:443 203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "say \"hi\"" 1520` + "\n"
	res := parseCmd(t, in, "--apache-format",
		`%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D`)
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 1 {
		t.Fatalf("len(res.objects) = %d, want 1", len(res.objects))
	}
	obj := res.objects[0]
	if obj["host"] != "www.example.com" {
		t.Errorf("obj[\"host\"] = %v, want www.example.com", obj["host"])
	}
	if obj["server_port"] != "443" {
		t.Errorf("obj[\"server_port\"] = %v, want 443", obj["server_port"])
	}
	if obj["remote_logname"] != "" {
		t.Errorf("obj[\"remote_logname\"] = %v, want ", obj["remote_logname"])
	}
	if obj["remote_user"] != "frank" {
		t.Errorf("obj[\"remote_user\"] = %v, want frank", obj["remote_user"])
	}
	if obj["bytes_sent"] != float64(2326) {
		t.Errorf("obj[\"bytes_sent\"] = %v, want %v", obj["bytes_sent"], float64(2326))
	}
	if obj["request_time"] != float64(0.00152) {
		t.Errorf("obj[\"request_time\"] = %v, want %v", obj["request_time"], float64(0.00152))
	}
	if obj["user_agent"] != `say \"hi\"` {
		t.Errorf("obj[\"user_agent\"] = %v, want say \\\"hi\\\"", obj["user_agent"])
	}
}

func TestParse_FormatFlagErrors(t *testing.T) {
	f := func(stderr string, args ...string) {
		t.Helper()
		res := parseCmd(t, "", args...)
		if res.code != 2 {
			t.Errorf("%q: res.code = %v, want 2", args, res.code)
		}
		if res.stdout != "" {
			t.Errorf("%q: res.stdout = %q, want empty", args, res.stdout)
		}
		if res.stderr != stderr {
			t.Errorf("%q: res.stderr = %q, want %q", args, res.stderr, stderr)
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
