//go:build !race

package ingest

import (
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerNoAllocs checks that a Server delivering datagrams allocates
// nothing per datagram once warm, on the readers (sync) or through the queue
// (whose buffers come from a pool that is warm by then).
//
// testing.AllocsPerRun counts the mallocs of the whole process over its
// runs and divides by the number of runs, rounding down. One run here is a
// whole round trip: the test sends a batch of datagrams (good, multi-line,
// syslog, bad and rejected ones) and waits until the handler has seen the
// batch's last line. A result of 0 therefore means fewer allocations in all
// runs together than there were runs, that is fewer than one per
// datagramsPerRun datagrams. The sender's own allocations are measured
// first and must be 0, so that whatever is counted is the Server's.
func TestServerNoAllocs(t *testing.T) {
	short := string(readFixture(t, "short"))
	path2k := string(readFixture(t, "path2k"))
	rfc3164 := string(readFixture(t, "rfc3164"))
	datagrams := [][]byte{
		[]byte(short),
		[]byte(short + "\n" + path2k + "\r\n\n" + rfc3164 + "\n"),
		[]byte(badLines[0].line + "\n" + short),
		[]byte(path2k),
	}
	goodLines := uint64(1 + 3 + 1 + 1)
	const rounds = 16 // of the datagrams above per run
	datagramsPerRun := rounds * len(datagrams)

	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"sync", Config{}},
		{"sync/bad-line-sampling", Config{OnBadLine: func([]byte, netip.AddrPort, error) {}}},
		{"sync/allowed-sources", Config{AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}}},
		{"sync/batch-1", Config{BatchSize: 1}},
		{"queue", Config{QueueLength: 4096}},
		{"queue/block", Config{QueueLength: 4096, BlockWhenQueueFull: true}},
		{"queue/2-workers", Config{QueueLength: 4096, Workers: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			var seen, target atomic.Uint64
			arrived := make(chan struct{}, 1)
			var hold sync.Mutex // held, it stops the workers in the handler
			cfg := tc.cfg
			cfg.Handler = HandlerFunc(func(r *Request) {
				hold.Lock()
				hold.Unlock()
				if r.Status != 200 {
					panic("bad request delivered")
				}
				if seen.Add(1) == target.Load() {
					arrived <- struct{}{}
				}
			})
			ts := startServer(t, cfg)
			c := dial(t, ts.addr)

			// The sender alone, writing to a socket nobody reads.
			sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			sc := dial(t, sink.LocalAddr().(*net.UDPAddr))
			if n := testing.AllocsPerRun(100, func() { sc.Write(datagrams[0]) }); n != 0 {
				t.Fatalf("the sender allocates %v times per datagram: the test cannot tell", n)
			}

			timer := time.NewTimer(time.Hour)
			timer.Stop()
			// arrivedInTime waits for the handler to have seen target lines.
			arrivedInTime := func() bool {
				timer.Reset(waitTimeout)
				ok := true
				select {
				case <-arrived:
				case <-timer.C:
					ok = false
				}
				timer.Stop()
				return ok
			}
			failed := false
			run := func() {
				target.Add(rounds * goodLines)
				for range rounds {
					for _, d := range datagrams {
						if _, err := c.Write(d); err != nil {
							failed = true
						}
					}
				}
				if !arrivedInTime() {
					failed = true
				}
			}
			if cfg.QueueLength > 0 {
				// Bring the buffer pool to what a run can need: with the
				// workers held in the handler, send twice a run's count of
				// the largest datagram, so that as many buffers of its size
				// are in use at once, then let them through. Without this
				// the pool grows whenever a run's backlog, or the datagram
				// a small buffer is given, is larger than any before; on a
				// loaded machine that happened inside the measured runs
				// (51 mallocs in 3,264 datagrams, each a new or a grown
				// buffer, never one per datagram).
				largest, lines := string(datagrams[1]), uint64(3)
				n := 2 * datagramsPerRun
				target.Add(uint64(n) * lines)
				hold.Lock()
				sent := ts.Stats().Datagrams
				for i := 0; i < n; i += 16 {
					// In steps, so that the socket's receive buffer never holds much.
					for range min(16, n-i) {
						send(t, c, largest)
						sent++
					}
					ts.waitStats(t, "the datagrams read", func(s Stats) bool { return s.Datagrams == sent })
				}
				hold.Unlock()
				if !arrivedInTime() {
					t.Fatalf("the pool-filling lines did not all arrive; stats %+v", ts.Stats())
				}
			}
			for range 5 { // warm up: first-use allocations (poller, time zone cache)
				run()
			}
			if cfg.QueueLength > 0 {
				// Queue mode takes its buffers from bytebufferpool (sync.Pool),
				// which a garbage collection empties: it then refills them,
				// a few allocations per collection, not per datagram. Keep
				// a collection started by an earlier test's garbage out of
				// the count.
				defer debug.SetGCPercent(debug.SetGCPercent(-1))
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			n := testing.AllocsPerRun(50, run) // 51 runs: one more to warm up
			runtime.ReadMemStats(&m1)
			t.Logf("%d mallocs in the process over %d datagrams", m1.Mallocs-m0.Mallocs, 51*datagramsPerRun)
			if failed {
				t.Fatalf("datagrams lost or write failed; stats %+v", ts.Stats())
			}
			st := ts.Stats()
			if n != 0 {
				t.Errorf("%v allocations per run of %d datagrams, want 0", n, datagramsPerRun)
			}
			if st.Parsed != seen.Load() || st.Truncated+st.DroppedKernel+st.DroppedSource != 0 {
				t.Errorf("stats %+v, handler saw %d", st, seen.Load())
			}
		})
	}
}
