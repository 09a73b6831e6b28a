package ingest_test

import (
	"fmt"

	"github.com/flatheap/ingest"
)

func ExampleCompileNginx() {
	// The log_format as it appears in nginx.conf.
	format, err := ingest.CompileNginx(`log_format upstreaminfo
	    '$remote_addr - $remote_user [$time_local] "$request" '
	    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
	    '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr '
	    '$upstream_response_length $upstream_response_time $upstream_status $req_id';`)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := ingest.Parser{Format: format} // compile once, parse every line
	var r ingest.Request
	line := []byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /api/v1/users/42 HTTP/1.1" 502 0 "-" "curl/8.5.0" 312 1.250 [default-api-80] [] 10.244.1.17:8080, 10.244.2.9:8080 0, 0 1.001, 0.240 502, 502 5f2b1c9e`)
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(format.Name(), string(r.Method), string(r.Path), r.Status, r.RequestTime)
	fmt.Printf("upstream_addr=%q upstream_status=%q\n", r.Var("upstream_addr"), r.Var("upstream_status"))
	// Output:
	// upstreaminfo GET /api/v1/users/42 502 1.25s
	// upstream_addr="10.244.1.17:8080, 10.244.2.9:8080" upstream_status="502, 502"
}

func ExampleCompileApache() {
	format, err := ingest.CompileApache(`LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D" vhost_timed`)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := ingest.Parser{Format: format}
	var r ingest.Request
	line := []byte(`www.example.com:443 203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /a HTTP/1.1" 200 2326 "-" "say \"hi\"" 1520`)
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(r.Host), string(r.Var("server_port")), r.BytesSent, r.RequestTime)
	fmt.Printf("%s\n", r.UserAgent) // a view: Apache's escaping is kept
	for name, v := range r.Vars() {
		fmt.Printf("%s=%q\n", name, v)
	}
	// Output:
	// www.example.com 443 2326 1.52ms
	// say \"hi\"
	// server_port="443"
	// remote_logname=""
}

func ExampleCompileNginx_error() {
	_, err := ingest.CompileNginx(`'$remote_addr $status$body_bytes_sent'`)
	fmt.Println(err)
	// Output:
	// ingest: bad format at offset 21: variables $status and $body_bytes_sent have nothing between them that could separate them
}

func ExampleAppendUnescapedJSON() {
	format, err := ingest.CompileNginx(`escape=json '{"ua":"$http_user_agent","status":$status}'`)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := ingest.Parser{Format: format}
	var r ingest.Request
	if err := p.Parse(&r, []byte(`{"ua":"say \"h\u00e9\"","status":200}`)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("view:    %s\n", r.UserAgent)
	buf := make([]byte, 0, 64) // reused across lines in real code
	buf = ingest.AppendUnescapedJSON(buf[:0], r.UserAgent)
	fmt.Printf("decoded: %s\n", buf)
	// Output:
	// view:    say \"h\u00e9\"
	// decoded: say "hé"
}
