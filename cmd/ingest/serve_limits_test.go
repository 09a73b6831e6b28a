package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/pathtable"
)

// TestGate checks that a gate runs at most its slots at once, answers the
// rest 503 with Retry-After after its wait, and reuses its workspaces.
func TestGate(t *testing.T) {
	g := newGate(1, 50*time.Millisecond, time.Second)
	req := httptest.NewRequest("GET", "/top", nil)
	w1 := httptest.NewRecorder()
	ws := g.acquire(w1, req)
	if ws == nil {
		t.Fatal("ws is nil")
	}
	ws.out.WriteString("hello")

	w2 := httptest.NewRecorder()
	start := time.Now()
	if got := g.acquire(w2, req); got != nil {
		t.Errorf("g.acquire(w2, req) = %v, want nil", got)
	}
	if got := time.Since(start); got < 50*time.Millisecond {
		t.Errorf("waited before giving up: time.Since(start) = %v, want >= %v", got, 50*time.Millisecond)
	}
	if w2.Code != http.StatusServiceUnavailable {
		t.Errorf("w2.Code = %v, want %v", w2.Code, http.StatusServiceUnavailable)
	}
	if got := w2.Header().Get("Retry-After"); got != "1" {
		t.Errorf("w2.Header().Get(\"Retry-After\") = %q, want \"1\"", got)
	}

	// A request whose client went away gives up at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w3 := httptest.NewRecorder()
	if got := g.acquire(w3, req.WithContext(ctx)); got != nil {
		t.Errorf("g.acquire(w3, req.WithContext(ctx)) = %v, want nil", got)
	}
	if w3.Code != http.StatusServiceUnavailable {
		t.Errorf("w3.Code = %v, want %v", w3.Code, http.StatusServiceUnavailable)
	}

	ws.rows = append(ws.rows, pathtable.Row{Key: "/a"})
	g.release(ws)
	if got := w1.Body.String(); got != "hello" {
		t.Errorf("release flushes: w1.Body = %q, want \"hello\"", got)
	}
	w4 := httptest.NewRecorder()
	again := g.acquire(w4, req)
	if again != ws {
		t.Fatal("not the same pointer")
	}
	if len(again.rows) != 0 {
		t.Errorf("again.rows = %v, want empty", again.rows)
	}
	if again.rows[:1][0].Key != "" {
		t.Errorf("release drops the rows' strings: again.rows[:1][0].Key = %q, want \"\"", again.rows[:1][0].Key)
	}
	g.release(again)
}

// TestLimitListener checks that at most max connections are accepted at
// once and that closing one lets the next in.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, 1)
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the first is open")
	case <-time.After(50 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the second connection was not accepted after the first closed")
	}
}
