//go:build !race

package loadgen

import (
	"net"
	"testing"
	"time"
)

// testAllocs fails the test when fn allocates.
func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

var sinkLine []byte

// TestLineGen_NoAllocs checks that generating a line does not allocate,
// also when the second changes and the cached time texts are formatted
// again.
func TestLineGen_NoAllocs(t *testing.T) {
	for _, syslog := range []string{"none", "3164", "5424"} {
		cfg, err := Config{Count: 1, Syslog: syslog, PathLength: 2048, Paths: 100, Unique: 0.5}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		g := newLineGen(cfg, "web01")
		buf := make([]byte, 0, g.maxLine)
		now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.Local)
		testAllocs(t, syslog, func() {
			now = now.Add(300 * time.Millisecond)
			buf = g.AppendLine(buf[:0], now)
		})
		sinkLine = buf
	}
	cfg, err := Config{Count: 1, Routes: true, Unique: 0.3}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	g := newLineGen(cfg, "web01")
	buf := make([]byte, 0, g.maxLine)
	now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.Local)
	testAllocs(t, "routes", func() {
		now = now.Add(300 * time.Millisecond)
		buf = g.AppendLine(buf[:0], now)
	})
	sinkLine = buf
}

func TestLoadBatch_FillNoAllocs(t *testing.T) {
	cfg, err := Config{Count: 1, Syslog: "5424", PathLength: 512, LinesPerDatagram: 7, Unique: 1}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	g := newLineGen(cfg, "web01")
	b := newLoadBatch(cfg, g.maxLine)
	now := time.Now()
	testAllocs(t, "fill", func() {
		now = now.Add(10 * time.Millisecond)
		if b.fill(g, cfg.Batch*cfg.LinesPerDatagram, now, -1) != cfg.Batch*cfg.LinesPerDatagram {
			t.Fatal("short batch")
		}
	})
}

// TestSender_NoAllocs checks that sending a batch does not allocate, with
// sendmmsg (Batch 32 on Linux) and with writes (Batch 1). Nothing reads
// the receiving socket: the kernel drops what does not fit.
func TestSender_NoAllocs(t *testing.T) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	for _, batch := range []int{1, 32} {
		cfg, err := Config{Count: 1, Targets: []string{sink.LocalAddr().String()}, Batch: batch}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		g := newLineGen(cfg, "web01")
		b := newLoadBatch(cfg, g.maxLine)
		b.fill(g, batch, time.Now(), -1)
		tg, err := dialTarget(cfg.Targets[0], batch, 1)
		if err != nil {
			t.Fatal(err)
		}
		var tr TargetResult
		testAllocs(t, "send", func() {
			if err := tg.send(b, &tr); err != nil {
				t.Fatal(err)
			}
		})
		tg.close()
		if tr.Datagrams <= 0 {
			t.Fatalf("tr.Datagrams = %v, want > 0", tr.Datagrams)
		}
	}
}
