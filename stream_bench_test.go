//go:build unix

package ingest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStream measures lines delivered per second through TCP and TLS
// connections, and the receiving process's CPU time per line. The sender
// is a child process (this test binary, see TestStreamSenderChild), so
// getrusage counts the receiver alone. One op is one line.
//
//	tr=tcp, tls         the transport
//	line=250B, 2KiB     the line: an RFC 3164 header and a combined line
//	                    whose path pads it to that length, octet-counted
//	conns=1, 16         the connections the lines are spread over, one
//	                    writer goroutine each in the sender
//	recv=ingest         a Server: framing, parsing, a handler that checks
//	                    each Request
//	recv=bare           the floor: a goroutine per connection reading into
//	                    a 64 KiB buffer and counting bytes, nothing else
//
// Compare with benchstat -col /recv.
//
// lines/s is lines over the wall time of the timed region; cpu-ns/line the
// receiver's CPU time (user + system) over it, per line. On a machine with
// fewer cores than sender and receiver can use, lines/s is shared with the
// sender; cpu-ns/line is not.
func BenchmarkStream(b *testing.B) {
	for _, tr := range []string{"tcp", "tls"} {
		for _, size := range []int{250, 2048} {
			for _, conns := range []int{1, 16} {
				for _, recv := range []string{"ingest", "bare"} {
					name := fmt.Sprintf("tr=%s/line=%s/conns=%d/recv=%s", tr, sizeName(size), conns, recv)
					b.Run(name, func(b *testing.B) { benchStream(b, tr, size, conns, recv == "bare") })
				}
			}
		}
	}
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// benchLine returns a line of n bytes (without framing): an RFC 3164
// header and a combined line with a padded path.
func benchLine(n int) string {
	head := "<190>Nov  5 21:22:09 web01 nginx: "
	l := head + line("/p")
	if pad := n - len(l); pad > 0 {
		l = head + line("/p"+strings.Repeat("x", pad))
	}
	return l
}

func benchStream(b *testing.B, tr string, size, conns int, bare bool) {
	frame := octet(benchLine(size))
	pathLen := len(benchLine(size)) - len(benchLine(0)) + 2
	var tlsConf *tls.Config
	if tr == "tls" {
		ca := newTestCA(b, "bench CA")
		cert, key := ca.issue(b, 1)
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			b.Fatal(err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{pair}}
	}

	var seen, target atomic.Int64
	arrived := make(chan struct{}, 1)
	var addr string
	if bare {
		addr = startBareReceiver(b, tlsConf, int64(len(frame)), &seen, &target, arrived)
	} else {
		h := HandlerFunc(func(r *Request) {
			if r.Status != 200 || len(r.Path) != pathLen {
				panic(fmt.Sprintf("bad request: status %d, path of %d bytes", r.Status, len(r.Path)))
			}
			if seen.Add(1) == target.Load() {
				arrived <- struct{}{}
			}
		})
		cfg := Config{Addr: "tcp://127.0.0.1:0", Handler: h}
		if tlsConf != nil {
			cfg.Addr, cfg.TLSConfig = "tls://127.0.0.1:0", tlsConf
		}
		ts := startStream(b, cfg)
		addr = ts.addr
		defer func() {
			if st := ts.Stats(); st.ParseErrors+st.HandlerPanics+st.FramesCut+st.FramesTooLong != 0 {
				b.Errorf("stats %+v", st)
			}
		}()
	}
	snd := startSender(b, addr, tr, conns, frame)
	// Warm up: connections, TLS sessions, buffers.
	run := func(n int) {
		target.Add(int64(n))
		snd.send(b, n)
		select {
		case <-arrived:
		case <-time.After(4 * waitTimeout):
			b.Fatalf("%d of %d lines arrived", seen.Load(), target.Load())
		}
	}
	run(10000)

	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	cpu0, t0 := cpuTime(b), time.Now()
	run(b.N)
	cpu, wall := cpuTime(b)-cpu0, time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/wall.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/line")
}

// startBareReceiver accepts connections and reads them into a buffer,
// counting whole frames of frameLen bytes.
func startBareReceiver(b *testing.B, tlsConf *tls.Config, frameLen int64, seen, target *atomic.Int64, arrived chan struct{}) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			var r io.Reader = nc
			if tlsConf != nil {
				r = tls.Server(nc, tlsConf)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				var rest int64
				for {
					n, err := r.Read(buf)
					rest += int64(n)
					if k := rest / frameLen; k > 0 {
						rest -= k * frameLen
						if s := seen.Add(k); s >= target.Load() && s-k < target.Load() {
							arrived <- struct{}{}
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// sender is the child process that sends the lines.
type sender struct {
	cmd *exec.Cmd
	in  io.Writer
	out *bufio.Reader
}

func startSender(b *testing.B, addr, tr string, conns int, frame string) *sender {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamSenderChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"INGEST_SENDER_ADDR="+addr, "INGEST_SENDER_TLS="+strconv.FormatBool(tr == "tls"),
		"INGEST_SENDER_CONNS="+strconv.Itoa(conns), "INGEST_SENDER_FRAME="+frame)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &sender{cmd: cmd, in: in, out: bufio.NewReader(out)}
	b.Cleanup(func() {
		in.Close() // the child ends at the end of its input
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			cmd.Process.Kill()
			<-done
		}
	})
	if l, err := s.out.ReadString('\n'); err != nil || l != "ready\n" {
		b.Fatalf("sender: %q, %v", l, err)
	}
	return s
}

// send makes the child send n lines and waits until it has written them.
func (s *sender) send(b *testing.B, n int) {
	if _, err := fmt.Fprintln(s.in, n); err != nil {
		b.Fatal(err)
	}
	if l, err := s.out.ReadString('\n'); err != nil || l != "sent\n" {
		b.Fatalf("sender: %q, %v", l, err)
	}
}

// TestStreamSenderChild is the sender of BenchmarkStream, run in a child
// process; it does nothing in a normal test run. It connects, prints
// "ready", then for each number n it reads it writes n frames spread over
// its connections and prints "sent".
func TestStreamSenderChild(t *testing.T) {
	addr := os.Getenv("INGEST_SENDER_ADDR")
	if addr == "" {
		t.Skip("the sender of BenchmarkStream, run by it")
	}
	conns, _ := strconv.Atoi(os.Getenv("INGEST_SENDER_CONNS"))
	frame := os.Getenv("INGEST_SENDER_FRAME")
	useTLS := os.Getenv("INGEST_SENDER_TLS") == "true"
	var ws []io.Writer
	for range conns {
		var c net.Conn
		var err error
		if useTLS {
			c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ws = append(ws, c)
	}
	// A block of whole frames, about 256 KiB, written at once.
	per := max(1, (256<<10)/len(frame))
	block := []byte(strings.Repeat(frame, per))
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, w := range ws {
			k := n / len(ws)
			if i < n%len(ws) {
				k++
			}
			wg.Go(func() {
				for k > 0 {
					m := min(k, per)
					if _, err := w.Write(block[:m*len(frame)]); err != nil {
						panic(err)
					}
					k -= m
				}
			})
		}
		wg.Wait()
		fmt.Println("sent")
	}
}
