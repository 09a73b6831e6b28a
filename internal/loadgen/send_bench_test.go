package loadgen

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLineGen measures generating one line (one op) into a reused
// buffer.
func BenchmarkLineGen(b *testing.B) {
	for _, pathLen := range []int{32, 2048} {
		for _, syslog := range []string{"none", "5424"} {
			b.Run(fmt.Sprintf("path%d/%s", pathLen, syslog), func(b *testing.B) {
				cfg, err := Config{Count: 1, Syslog: syslog, PathLength: pathLen, Paths: 1000, Unique: 0.1}.Normalize()
				if err != nil {
					b.Fatal(err)
				}
				benchAppendLine(b, newLineGen(cfg, "web01"), func(line []byte) bool {
					return len(line) >= pathLen
				})
			})
		}
	}
	b.Run("routes", func(b *testing.B) {
		g, err := NewLineGen(Config{Routes: true, Unique: 0.2}, "web01")
		if err != nil {
			b.Fatal(err)
		}
		benchAppendLine(b, g, func(line []byte) bool {
			return len(line) >= 100 && line[len(line)-1] == '"'
		})
	})
}

// benchAppendLine measures g.AppendLine into a reused buffer, one line an
// op, and fails on a line that ok rejects.
func benchAppendLine(b *testing.B, g *LineGen, ok func(line []byte) bool) {
	buf := make([]byte, 0, g.MaxLine())
	buf = g.AppendLine(buf, time.Now())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		buf = g.AppendLine(buf[:0], now)
		if !ok(buf) {
			b.Fatalf("line %q", buf)
		}
	}
}

// BenchmarkSendLoad sends b.N lines with 2 KB paths, unpaced, to a
// loopback socket that a goroutine drains, with one write per datagram
// and with sendmmsg batches. lines/s is what the sender achieved; recv-%
// is the share of the datagrams the drain read (the rest the kernel
// dropped on the receiving socket).
func BenchmarkSendLoad(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			conn.SetReadBuffer(4 << 20)
			var got atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 65536)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
					got.Add(1)
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Send(context.Background(), Config{
				Targets: []string{conn.LocalAddr().String()}, Count: int64(b.N), PathLength: 2048, Batch: batch,
			}, nil)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if res.Lines != int64(b.N) || res.SendErrors != 0 {
				b.Fatalf("sent %d lines with %d errors, want %d and 0", res.Lines, res.SendErrors, b.N)
			}
			time.Sleep(50 * time.Millisecond)
			conn.Close()
			<-done
			b.SetBytes(res.Bytes / res.Lines)
			b.ReportMetric(res.LinesPerSecond(), "lines/s")
			b.ReportMetric(100*float64(got.Load())/float64(res.Datagrams), "recv-%")
		})
	}
}
