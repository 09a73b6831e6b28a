package readme

import (
	"fmt"

	"github.com/flatheap/ingest"
)

func Example_parse() {
	// readme:parse
	var p ingest.Parser // the zero value parses combined, with or without a syslog header
	var r ingest.Request
	line := []byte(`<190>Oct 10 13:55:36 web01 nginx: 203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /api/v1/users/42?expand=orders HTTP/1.1" 200 1534 "https://example.com/start" "curl/8.5.0"`)
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err) // errors.Is(err, ingest.ErrTime), ingest.ErrorReason(err) == "time", ...
		return
	}
	fmt.Printf("%s %s ? %s -> %d, %d bytes\n", r.Method, r.Path, r.Query, r.Status, r.BodyBytesSent)
	// GET /api/v1/users/42 ? expand=orders -> 200, 1534 bytes
	// readme:end
	// Output:
	// GET /api/v1/users/42 ? expand=orders -> 200, 1534 bytes
}

func Example_format() {
	line := []byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /api/v1/users/42 HTTP/1.1" 502 0 1.250 10.244.1.17:8080, 10.244.2.9:8080`)
	// readme:format
	format, err := ingest.CompileNginx(`log_format timed '$remote_addr - $remote_user [$time_local] '
	    '"$request" $status $body_bytes_sent $request_time $upstream_addr';`)
	if err != nil {
		fmt.Println(err) // *ingest.FormatError: what is wrong and at which byte offset
		return
	}
	p := ingest.Parser{Format: format} // compile once, parse every line
	var r ingest.Request
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Status, r.RequestTime, string(r.Var("upstream_addr")))
	// 502 1.25s 10.244.1.17:8080, 10.244.2.9:8080
	// readme:end
	// Output:
	// 502 1.25s 10.244.1.17:8080, 10.244.2.9:8080
}
