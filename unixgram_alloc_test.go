//go:build unix && !race

package ingest

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnixgramNoAllocs: a Server reading a unix datagram socket allocates
// nothing per datagram once warm, as on UDP (same readers). One run sends
// 8 datagrams (the socket queues 10 by default) and waits for their lines.
func TestUnixgramNoAllocs(t *testing.T) {
	checkLeaks(t)
	rfc3164 := readFixture(t, "rfc3164")
	path2k := readFixture(t, "path2k")
	var seen, target atomic.Int64
	arrived := make(chan struct{}, 1)
	ts := startUnix(t, filepath.Join(t.TempDir(), "s.sock"), Config{Handler: HandlerFunc(func(r *Request) {
		if r.Status != 200 {
			panic("bad request delivered")
		}
		if seen.Add(1) == target.Load() {
			arrived <- struct{}{}
		}
	})})
	c := dialUnixgram(t, ts.addr)
	if n := testing.AllocsPerRun(20, func() { c.Write(rfc3164) }); n != 0 {
		t.Fatalf("the sender allocates %v times per datagram", n)
	}
	ts.waitStats(t, "the sender's datagrams", func(s Stats) bool { return s.Datagrams == 21 })
	failed := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	run := func() {
		target.Add(8)
		for i := range 8 {
			d := rfc3164
			if i%2 == 1 {
				d = path2k
			}
			if _, err := c.Write(d); err != nil {
				failed = true
			}
		}
		timer.Reset(waitTimeout)
		select {
		case <-arrived:
		case <-timer.C:
			failed = true
		}
		timer.Stop()
	}
	target.Store(21)
	seen.Store(21)
	for range 5 {
		run()
	}
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("%v allocations per 8 datagrams, want 0", n)
	}
	if failed {
		t.Fatalf("datagrams lost; stats %+v", ts.Stats())
	}
}
