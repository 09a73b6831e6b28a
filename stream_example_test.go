package ingest_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flatheap/ingest"
)

// ExampleServer_tcp serves syslog over TCP, as a relay (rsyslog, syslog-ng)
// forwards it: one connection carries a frame with octet counting, one
// with LF framing, and a last one cut in the middle, which is counted.
func ExampleServer_tcp() {
	var mu sync.Mutex
	var seen []string
	srv, err := ingest.NewServer(ingest.Config{
		Addr: "tcp://127.0.0.1:0", // a free port; see LocalAddr
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			// r is valid only during the call: keep copies.
			line := fmt.Sprintf("%s %s %d, tag %s", r.Method, r.Path, r.Status, r.SyslogTag)
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(context.Background()) }()

	// Wait, at most 10 s, until cond holds.
	waitFor := func(cond func() bool) bool {
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return false
			}
		}
		return true
	}
	if !waitFor(func() bool { return srv.LocalAddr() != nil }) {
		fmt.Println("not listening")
		return
	}

	c, err := net.Dial("tcp", srv.LocalAddr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := `<190>Dec  6 06:31:03 web01 nginx 203.0.113.7 - - [06/Dec/2026:06:31:03 +0000] "GET /users/1 HTTP/1.1" 200 12 "-" "curl/8.5.0"`
	fmt.Fprintf(c, "%d %s", len(msg), msg) // octet counting
	fmt.Fprintf(c, "%s\n", `<190>Dec  6 06:31:04 web01 nginx: 203.0.113.7 - - [06/Dec/2026:06:31:04 +0000] "POST /orders HTTP/1.1" 201 3 "-" "curl/8.5.0"`)
	fmt.Fprintf(c, "%d %s", len(msg), msg[:40]) // the connection ends within this frame
	c.Close()

	if !waitFor(func() bool { return srv.Stats().ConnectionsClosed == 1 }) {
		fmt.Println("the connection is still open:", srv.Stats())
	}
	st := srv.Stats()
	mu.Lock()
	for _, l := range seen {
		fmt.Println(l)
	}
	mu.Unlock()
	fmt.Printf("%s: connections %d, frames %d, cut %d, parsed %d\n",
		st.Transport, st.ConnectionsOpened, st.Frames, st.FramesCut, st.Parsed)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx))
	fmt.Println("serve:", <-errc)
	// Output:
	// GET /users/1 200, tag nginx
	// POST /orders 201, tag nginx
	// tcp: connections 1, frames 2, cut 1, parsed 2
	// shutdown: <nil>
	// serve: ingest: server closed
}
