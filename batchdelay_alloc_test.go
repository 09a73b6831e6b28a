//go:build !race && linux

package ingest

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestBatchDelayNoAllocs checks that the delayed read path allocates
// nothing per datagram once warm: the waits after short reads, the reads of
// the batches they collect, and on a socket that ListenAndServe detached
// from the runtime's poller, the waits for traffic in its epoll instance.
//
// One run sends a burst of datagrams and waits until the handler has seen
// the last line; the reader takes the first datagram alone, waits the
// delay, reads the rest as a batch, and once the queue is empty waits for
// the next run's traffic. testing.AllocsPerRun counts the mallocs of the
// whole process and divides by the runs, rounding down: 0 means fewer
// allocations in all runs together than there were runs, that is fewer
// than one per perRun datagrams. The sender's own allocations are
// measured first and must be 0.
func TestBatchDelayNoAllocs(t *testing.T) {
	datagram := []byte(readFixture(t, "short"))
	const perRun = 64
	for _, how := range []string{"ListenAndServe", "Serve"} {
		t.Run(how, func(t *testing.T) {
			checkLeaks(t)
			var seen, target atomic.Uint64
			arrived := make(chan struct{}, 1)
			h := HandlerFunc(func(r *Request) {
				if r.Status != 200 {
					panic("bad request delivered")
				}
				if seen.Add(1) == target.Load() {
					arrived <- struct{}{}
				}
			})
			srv, addr := serveDelayed(t, how, Config{Handler: h, BatchDelay: 2 * time.Millisecond})
			c := dial(t, addr)

			sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			sc := dial(t, sink.LocalAddr().(*net.UDPAddr))
			if n := testing.AllocsPerRun(100, func() { sc.Write(datagram) }); n != 0 {
				t.Fatalf("the sender allocates %v times per datagram: the test cannot tell", n)
			}

			timer := time.NewTimer(time.Hour)
			timer.Stop()
			failed := false
			run := func() {
				target.Add(perRun)
				for range perRun {
					if _, err := c.Write(datagram); err != nil {
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
			for range 5 {
				run()
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			n := testing.AllocsPerRun(50, run)
			runtime.ReadMemStats(&m1)
			t.Logf("%d mallocs in the process over %d datagrams", m1.Mallocs-m0.Mallocs, 51*perRun)
			if failed {
				t.Fatalf("datagrams lost or write failed; stats %+v", srv.Stats())
			}
			if n != 0 {
				t.Errorf("%v allocations per run of %d datagrams, want 0", n, perRun)
			}
			if st := srv.Stats(); st.Parsed != seen.Load() || st.DroppedKernel != 0 {
				t.Errorf("stats %+v, handler saw %d", st, seen.Load())
			}
		})
	}
}
