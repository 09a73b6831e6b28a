package loadgen_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/flatheap/ingest/internal/loadgen"
)

// A LineGen makes the same lines from the same seed; only the time varies.
func ExampleLineGen() {
	g, err := loadgen.NewLineGen(loadgen.Config{Syslog: "3164", PathLength: 24, Paths: 2, Seed: 7}, "web01")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 5, 21, 22, 9, 0, time.UTC)
	var line []byte
	for range 2 {
		line = g.AppendLine(line[:0], now)
		fmt.Printf("%s\n", line)
	}
	// Output:
	// <190>Nov  5 21:22:09 web01 nginx: 198.51.100.38 - - [05/Nov/2026:21:22:09 +0000] "GET /p0iyh/hhqjxj95cp/duuym3 HTTP/1.1" 500 66165 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	// <190>Nov  5 21:22:09 web01 nginx: 203.0.113.75 - - [05/Nov/2026:21:22:09 +0000] "GET /p1iyh/hhqjxj95cp/duuym3 HTTP/1.1" 200 5214 "https://search.example.org/?q=ingest" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
}

// Send sends a bounded load and says what it sent: with Routes, how many
// lines each route template made, the truth a receiver's per-route counts
// must match. Sources spreads the datagrams over several source ports.
func ExampleSend() {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	res, err := loadgen.Send(context.Background(), loadgen.Config{
		Targets: []string{conn.LocalAddr().String()},
		Count:   1000, Rate: 100000, Sources: 4,
		Routes: true, Unique: 0.1, Seed: 1,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("lines", res.Lines, "junk", res.Junk)
	for _, rc := range res.Routes[:3] {
		fmt.Println(rc.Route, rc.Lines)
	}
	// Output:
	// lines 1000 junk 99
	// / 22
	// /healthz 14
	// /auth/login 19
}

// A scanner mix makes a flood of junk paths among real routes; a junk
// route gives back its index, so that a receiver can tell a path seen
// once from one seen twice.
func ExampleScannerMix() {
	mix := &loadgen.ScannerMix{Routes: 2, JunkPaths: 3, JunkRate: 1000, RepeatOneIn: 2, RepeatWithin: 10 * time.Millisecond,
		Before: time.Millisecond, After: time.Millisecond}
	g, err := loadgen.NewLineGen(loadgen.Config{Scanner: mix, Seed: 1}, "web01")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var line []byte
	for range 8 {
		line = g.AppendLine(line[:0], now)
		path := strings.Fields(string(line))[6]
		if j, ok := loadgen.ScannerJunkIndex(path, 1); ok {
			fmt.Println(path, "junk", j)
		} else {
			fmt.Println(path)
		}
	}
	res := g.Scanner()
	fmt.Println(res.JunkPaths, "junk paths,", res.JunkLines, "junk lines")
	// Output:
	// /api/v2/cart/1000
	// /wp-admin/czkjiitvut.php junk 0
	// /api/v2/products/1000
	// /wp-admin/bgnigltzwe.php junk 1
	// /wp-admin/czkjiitvut.php junk 0
	// /api/v2/checkout/1000
	// /wp-admin/anpheotdzp.php junk 2
	// /wp-admin/anpheotdzp.php junk 2
	// 3 junk paths, 5 junk lines
}
