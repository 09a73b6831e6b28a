package ingest_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flatheap/ingest"
)

// ExampleServer serves a loopback port, sends it two lines (the second one
// bad) and shows what the handler saw and what Stats counted.
func ExampleServer() {
	var mu sync.Mutex
	var seen []string
	srv, err := ingest.NewServer(ingest.Config{
		Addr: "127.0.0.1:0", // a free port; see LocalAddr
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			// r is valid only during the call: keep copies.
			line := fmt.Sprintf("%s %s %d from %v", r.Method, r.Path, r.Status, r.Source.Addr())
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

	c, err := net.Dial("udp", srv.LocalAddr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 1534 "-" "curl/8.5.0"`))
	c.Write([]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 2000 1 "-" "-"`))

	if !waitFor(func() bool { return srv.Stats().Lines == 2 }) {
		fmt.Println("lines lost:", srv.Stats())
	}
	st := srv.Stats()
	mu.Lock()
	for _, l := range seen {
		fmt.Println(l)
	}
	mu.Unlock()
	fmt.Printf("datagrams %d, lines %d, parsed %d, parse errors %d (status: %d)\n",
		st.Datagrams, st.Lines, st.Parsed, st.ParseErrors, st.ParseErrorsFor("status"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx))
	fmt.Println("serve:", <-errc)
	// Output:
	// GET /index.html 200 from 127.0.0.1
	// datagrams 2, lines 2, parsed 1, parse errors 1 (status: 1)
	// shutdown: <nil>
	// serve: ingest: server closed
}
