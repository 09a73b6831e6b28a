package ingest_test

import (
	"errors"
	"fmt"

	"github.com/flatheap/ingest"
)

func ExampleParser_Parse() {
	var p ingest.Parser // the zero value parses combined, with or without a syslog header
	var r ingest.Request
	line := []byte(`<190>Oct 10 13:55:36 web01 nginx: 203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /api/v1/users/42?expand=orders HTTP/1.1" 200 1534 "https://example.com/start" "curl/8.5.0"`)
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err)
		return
	}
	// The fields are views into line: copy what must outlive it.
	fmt.Printf("%s %s ? %s -> %d, %d bytes\n", r.Method, r.Path, r.Query, r.Status, r.BodyBytesSent)
	fmt.Println(r.Time.Format("2006-01-02 15:04:05 -07:00"))
	fmt.Printf("%s from host %s, tag %s, priority %d\n", r.Envelope, r.SyslogHost, r.SyslogTag, r.SyslogPriority)
	// Output:
	// GET /api/v1/users/42 ? expand=orders -> 200, 1534 bytes
	// 2026-10-10 13:55:36 +02:00
	// rfc3164 from host web01, tag nginx, priority 190
}

func ExampleErrorReason() {
	var p ingest.Parser
	var r ingest.Request
	err := p.Parse(&r, []byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 2000 15 "-" "-"`))
	fmt.Println(errors.Is(err, ingest.ErrStatus), ingest.ErrorReason(err))
	fmt.Println(err)
	// Output:
	// true status
	// ingest: invalid status (status field)
}
