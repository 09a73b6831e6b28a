//go:build unix

// The benchmarks here measure the receiver's CPU time with
// getrusage, hence the build constraint.

package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func listenLoopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	return conn
}

// roundSizes caches roundSize by datagram length.
var roundSizes sync.Map

// roundSize returns how many datagrams of len(dgram) bytes a benchmark
// round queues before reading them: half of what a socket with the default
// receive buffer was measured to hold, at most 8192. It is measured once per
// length by flooding a socket nobody reads and counting what it kept.
func roundSize(b *testing.B, dgram []byte) int {
	if v, ok := roundSizes.Load(len(dgram)); ok {
		return v.(int)
	}
	conn := listenLoopback(b)
	defer conn.Close()
	if _, err := setReceiveBuffer(conn, defaultReceiveBuffer); err != nil {
		b.Fatal(err)
	}
	c := dial(b, conn.LocalAddr().(*net.UDPAddr))
	const flood = 40000
	for range flood {
		if _, err := c.Write(dgram); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, defaultMaxDatagram+1)
	held := 0
	for {
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			break
		}
		held++
	}
	k := min(held/2, 8192)
	if k < 1 {
		b.Fatalf("a socket held %d datagrams of %d bytes", held, len(dgram))
	}
	roundSizes.Store(len(dgram), k)
	return k
}

// BenchmarkServe measures delivery on the receiving side only: each round
// first queues a batch of datagrams in the socket while nothing reads it,
// then times how long the Server takes to deliver them.
//
//	sync       a Server with the default configuration (one reader, recvmmsg
//	           batches on Linux) parsing every datagram on the reader and
//	           calling a handler that checks the result
//	queue      the same with QueueLength 4096, one worker and
//	           BlockWhenQueueFull (a throughput test must not drop): the
//	           reader reads and copies, the worker parses and calls the
//	           handler
//	bare-read  a loop of conn.Read on the same kind of socket, one datagram
//	           per call, no parsing: the floor to compare with
//	bare-read-go  the same loop on a goroutine of its own, started for each
//	           round and waited for, as the Server's reader is: bare-read
//	           runs on the goroutine that has just written the round, and
//	           so often on the core whose caches hold it
//
// One datagram holds one line of the fixture. lines/s is datagrams (and so
// lines) delivered per second of timed work; cpu-ns/dgram is the process's
// CPU time (getrusage) over the timed rounds per datagram, all goroutines
// included.
func BenchmarkServe(b *testing.B) {
	for _, name := range []string{"short", "path2k"} {
		dgram := readFixture(b, name)
		b.Run(name+"/sync", func(b *testing.B) { benchIngest(b, dgram, Config{}) })
		b.Run(name+"/queue", func(b *testing.B) {
			benchIngest(b, dgram, Config{QueueLength: 4096, Workers: 1, BlockWhenQueueFull: true})
		})
		b.Run(name+"/bare-read", func(b *testing.B) { benchBareRead(b, dgram) })
		b.Run(name+"/bare-read-go", func(b *testing.B) { benchBareReadGoroutine(b, dgram) })
	}
}

// heldConn is a *net.UDPConn whose reads through syscall.RawConn first call
// hold, so a benchmark can keep the Server's reader from reading while it
// queues a round of datagrams in the socket.
type heldConn struct {
	*net.UDPConn
	rc heldRawConn
}

type heldRawConn struct {
	syscall.RawConn
	hold func()
}

func (c *heldConn) SyscallConn() (syscall.RawConn, error) { return &c.rc, nil }

func (h *heldRawConn) Read(f func(fd uintptr) bool) error {
	h.hold()
	return h.RawConn.Read(f)
}

func benchIngest(b *testing.B, dgram []byte, cfg Config) {
	var p Parser
	var want Request
	if err := p.Parse(&want, dgram); err != nil {
		b.Fatal(err)
	}
	wantPath := len(want.Path)
	k := roundSize(b, dgram)

	// The reader may read while it has read fewer than readLimit datagrams;
	// then it waits in heldRawConn.Read for the next round. The handler
	// signals when it has seen the round's last line.
	var seen, bad, roundEnd, readLimit atomic.Int64
	reached := make(chan struct{}, 1)
	resume := make(chan struct{})
	quit := make(chan struct{})
	cfg.Handler = HandlerFunc(func(r *Request) {
		if r.Status != 200 || len(r.Path) != wantPath {
			bad.Add(1)
		}
		if seen.Add(1) == roundEnd.Load() {
			reached <- struct{}{}
		}
	})
	cfg.Logger = slog.New(&logRecorder{})
	srv, err := NewServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	udp := listenLoopback(b)
	raw, err := udp.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var rd *reader // the Server's only reader, known once it reads
	conn := &heldConn{UDPConn: udp, rc: heldRawConn{RawConn: raw, hold: func() {
		if rd == nil {
			srv.mu.Lock()
			rd = srv.readers[0]
			srv.mu.Unlock()
		}
		for int64(rd.c.datagrams.Load()) >= readLimit.Load() {
			select {
			case <-resume:
			case <-quit:
				return
			}
		}
	}}}
	roundEnd.Store(1) // a first datagram, before the rounds
	readLimit.Store(1)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), conn) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(quit)
			srv.Close()
			<-errc
		}
	}
	defer stop()
	c := dial(b, udp.LocalAddr().(*net.UDPAddr))
	timer := time.NewTimer(time.Hour) // reused: no allocation while timed
	wait := func() {
		timer.Reset(waitTimeout)
		select {
		case <-reached:
		case <-timer.C:
			b.Fatalf("datagrams lost: %+v", srv.Stats())
		}
		timer.Stop()
	}
	if _, err := c.Write(dgram); err != nil {
		b.Fatal(err)
	}
	wait() // the reader has read it and now waits in hold

	cpu := benchRounds(b, c, dgram, k, func(done, n int) func() {
		roundEnd.Store(int64(1 + done + n))
		readLimit.Store(int64(1 + done + n))
		return func() {
			resume <- struct{}{}
			wait()
		}
	})
	stop() // the last round's counts are published once the reader goes on
	st := srv.Stats()
	if bad.Load() != 0 || st.Parsed != uint64(1+b.N) || st.ParseErrors != 0 || st.DroppedKernel != 0 ||
		st.DroppedQueueFull != 0 || st.DroppedClosed != 0 {
		b.Fatalf("bad deliveries %d; stats %+v", bad.Load(), st)
	}
	reportRounds(b, cpu)
}

// bareSocket returns the round size for dgram, a loopback socket with the
// Server's default receive buffer, closed when b ends, and a socket
// connected to it to send from.
func bareSocket(b *testing.B, dgram []byte) (k int, conn, c *net.UDPConn) {
	k = roundSize(b, dgram)
	conn = listenLoopback(b)
	b.Cleanup(func() { conn.Close() })
	if _, err := setReceiveBuffer(conn, defaultReceiveBuffer); err != nil {
		b.Fatal(err)
	}
	return k, conn, dial(b, conn.LocalAddr().(*net.UDPAddr))
}

func benchBareRead(b *testing.B, dgram []byte) {
	k, conn, c := bareSocket(b, dgram)
	buf := make([]byte, defaultMaxDatagram+1)

	cpu := benchRounds(b, c, dgram, k, func(_, n int) func() {
		conn.SetReadDeadline(time.Now().Add(waitTimeout))
		return func() {
			for range n {
				m, err := conn.Read(buf)
				if err != nil || m != len(dgram) {
					b.Fatalf("read %d bytes: %v", m, err)
				}
			}
		}
	})
	reportRounds(b, cpu)
}

// benchBareReadGoroutine is benchBareRead with the loop on a goroutine of
// its own, handed each round's size and waited for.
func benchBareReadGoroutine(b *testing.B, dgram []byte) {
	k, conn, c := bareSocket(b, dgram)
	rounds := make(chan int)
	results := make(chan error)
	defer close(rounds) // stops the reader
	go func() {
		buf := make([]byte, defaultMaxDatagram+1)
		for n := range rounds {
			var err error
			for range n {
				m, rerr := conn.Read(buf)
				if rerr != nil || m != len(dgram) {
					err = fmt.Errorf("read %d bytes: %v", m, rerr)
					break
				}
			}
			results <- err
		}
	}()

	cpu := benchRounds(b, c, dgram, k, func(_, n int) func() {
		conn.SetReadDeadline(time.Now().Add(waitTimeout))
		return func() {
			rounds <- n
			if err := <-results; err != nil {
				b.Fatal(err)
			}
		}
	})
	reportRounds(b, cpu)
}

// benchRounds runs b.N datagrams through rounds of at most k: each round
// writes its datagrams to c with the timer stopped, calls prepare (also
// untimed) with the datagrams done so far and the round's size, and times
// the drain function prepare returns. It returns the process's CPU time
// over the timed parts.
func benchRounds(b *testing.B, c *net.UDPConn, dgram []byte, k int, prepare func(done, n int) (drain func())) time.Duration {
	b.ReportAllocs()
	b.SetBytes(int64(len(dgram)))
	b.ResetTimer()
	b.StopTimer()
	var cpu time.Duration
	for done := 0; done < b.N; {
		n := min(k, b.N-done)
		for range n {
			if _, err := c.Write(dgram); err != nil {
				b.Fatal(err)
			}
		}
		drain := prepare(done, n)
		cpu0 := cpuTime(b)
		b.StartTimer()
		drain()
		b.StopTimer()
		cpu += cpuTime(b) - cpu0
		done += n
	}
	return cpu
}

// reportRounds reports lines/s and CPU per datagram (one line each).
func reportRounds(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/dgram")
}
