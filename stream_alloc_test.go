//go:build !race

package ingest

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreamNoAllocs checks that a Server delivering lines from a TCP or
// TLS connection allocates nothing per line once warm (TLS: crypto/tls's
// one allocation per read of its record buffer, see below). One run writes a
// block of frames (octet-counted and LF-framed, short and 2 KiB lines,
// with and without a syslog header, one that fails to parse) and waits
// until the handler has seen its last line; testing.AllocsPerRun rounds
// down, so 0 means fewer allocations in all runs together than runs, that
// is fewer than one per block. The sender's own allocations are measured
// first and must be 0.
func TestStreamNoAllocs(t *testing.T) {
	short := string(readFixture(t, "short"))
	path2k := string(readFixture(t, "path2k"))
	rfc3164 := string(readFixture(t, "rfc3164"))
	var b strings.Builder
	good := 0
	for i := range 8 {
		b.WriteString(octet(short))
		b.WriteString(rfc3164 + "\n")
		b.WriteString(octet(path2k + "\n" + short))
		b.WriteString(path2k + "\r\n")
		good += 5
		if i == 3 {
			b.WriteString(octet(badLines[0].line))
		}
	}
	block := []byte(b.String())

	for _, tr := range []string{"tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			checkLeaks(t)
			var seen, target atomic.Int64
			arrived := make(chan struct{}, 1)
			cfg := Config{Handler: HandlerFunc(func(r *Request) {
				if r.Status != 200 {
					panic("bad request delivered")
				}
				if seen.Add(1) == target.Load() {
					arrived <- struct{}{}
				}
			})}
			var client *tls.Config
			if tr == "tls" {
				ca := newTestCA(t, "test CA")
				cert, key := ca.issue(t, 1)
				pair, err := tls.X509KeyPair(cert, key)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Addr, cfg.TLSConfig = "tls://127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}}
				client = &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}
			}
			ts := startStream(t, cfg)
			dial := func(addr string) io.Writer {
				if client != nil {
					c, err := dialTLS(t, addr, client)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				return dialTCP(t, addr)
			}
			c := dial(ts.addr)

			// The sender alone, writing to a receiver that reads into a
			// fixed buffer.
			sink := newSinkListener(t, cfg.TLSConfig)
			sc := dial(sink)
			for range 5 {
				sc.Write(block)
			}
			if n := testing.AllocsPerRun(50, func() { sc.Write(block) }); n != 0 {
				if puregoBuild && tr == "tls" {
					t.Skipf("crypto/tls's portable code (the purego tag) allocates %v times per block in the sender: the test cannot tell", n)
				}
				t.Fatalf("the sender allocates %v times per block: the test cannot tell", n)
			}

			timer := time.NewTimer(time.Hour)
			timer.Stop()
			failed := false
			run := func() {
				target.Add(int64(good))
				if _, err := c.Write(block); err != nil {
					failed = true
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
			n := testing.AllocsPerRun(50, run)
			if failed {
				t.Fatalf("lines lost or a write failed; stats %+v", ts.Stats())
			}
			// crypto/tls allocates one small object (its atLeastReader) each
			// time it reads from the connection into its record buffer: about
			// once per 16 KiB, whatever the lines. Nothing else may allocate.
			want := 0.0
			if tr == "tls" {
				want = float64(len(block)/(16<<10) + 1)
			}
			t.Logf("%v allocations per block of %d lines (%d bytes)", n, good+1, len(block))
			if n > want {
				t.Errorf("%v allocations per block of %d lines (%d bytes), want at most %v", n, good+1, len(block), want)
			}
			if st := ts.Stats(); st.Parsed != uint64(seen.Load()) || st.ParseErrors != 56 || st.FramesCut+st.FramesTooLong != 0 {
				t.Errorf("stats %+v, handler saw %d", st, seen.Load())
			}
		})
	}
}

// newSinkListener accepts connections (TLS with tlsConf when not nil) and
// reads them into a fixed buffer until they close. It returns the address.
func newSinkListener(t *testing.T, tlsConf *tls.Config) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		var r io.Reader = nc
		if tlsConf != nil {
			r = tls.Server(nc, tlsConf)
		}
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
