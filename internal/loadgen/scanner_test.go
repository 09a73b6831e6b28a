package loadgen

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/route"
)

// smallMix is a scanner mix of a few seconds.
var smallMix = ScannerMix{Routes: 5, JunkPaths: 3000, JunkRate: 1000, RepeatOneIn: 10, RepeatWithin: 2 * time.Second, Before: time.Second, After: time.Second}

// TestScannerMix_Lines makes every line of a small mix and checks it
// against the mix's definition: the lines in the order of their times,
// each junk path once or, one in ten, twice, 0.2 to 2 s apart, the junk
// routes giving their indexes back, the real routes' counts at their
// rates, the new route from a third of the way into the flood, and the
// result the generator reports.
func TestScannerMix_Lines(t *testing.T) {
	const seed = 9
	g, err := NewLineGen(Config{Scanner: &smallMix, Seed: seed}, "web01")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := smallMix.normalize()
	f, err := ingest.CompileNginx(RoutesLogFormat)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Parser{Format: f}
	templater, err := route.New(route.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var r ingest.Request
	junkAt := map[int64][]time.Duration{}
	perRoute := map[string][]time.Duration{}
	var line []byte
	last := time.Duration(-1)
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for g.due(-1) {
		at, _ := g.scan.nextAt()
		if at < last {
			t.Fatalf("a line at %v after one at %v", at, last)
		}
		last = at
		line = g.AppendLine(line[:0], now)
		if len(line) > g.MaxLine() {
			t.Fatalf("%d bytes, MaxLine %d: %s", len(line), g.MaxLine(), line)
		}
		if err := p.Parse(&r, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if string(r.Method) != "GET" || string(r.Host) != ScannerVHost {
			t.Fatalf("method %s, host %s: %s", r.Method, r.Host, line)
		}
		rt := templater.Route(r.Method, r.Path)
		if j, ok := ScannerJunkIndex(rt, seed); ok {
			if rt != string(r.Path) || r.Status != 404 {
				t.Fatalf("junk path %s: route %s, status %d", r.Path, rt, r.Status)
			}
			junkAt[j] = append(junkAt[j], at)
			continue
		}
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, line)
		}
		perRoute[rt] = append(perRoute[rt], at)
	}
	if int64(len(junkAt)) != m.JunkPaths {
		t.Errorf("%d junk paths, want %d", len(junkAt), m.JunkPaths)
	}
	var junkLines int64
	for j, ats := range junkAt {
		junkLines += int64(len(ats))
		if j < 0 || j >= m.JunkPaths {
			t.Fatalf("junk index %d out of range", j)
		}
		if want := m.Before + time.Duration(j)*time.Second/time.Duration(m.JunkRate); ats[0] != want {
			t.Errorf("junk %d at %v, want %v", j, ats[0], want)
		}
		switch {
		case !m.Repeated(j) && len(ats) != 1:
			t.Errorf("junk %d sent %d times, want once", j, len(ats))
		case m.Repeated(j) && len(ats) != 2:
			t.Errorf("junk %d sent %d times, want twice", j, len(ats))
		case m.Repeated(j) && (ats[1]-ats[0] < m.RepeatWithin/10 || ats[1]-ats[0] > m.RepeatWithin):
			t.Errorf("junk %d repeated %v after its first line", j, ats[1]-ats[0])
		}
	}
	res := g.Scanner()
	if res.JunkPaths != m.JunkPaths || res.JunkLines != junkLines || junkLines != m.JunkPaths+(m.JunkPaths+9)/10 {
		t.Errorf("result %d junk paths, %d lines; made %d lines", res.JunkPaths, res.JunkLines, junkLines)
	}
	templates := m.RouteTemplates()
	if len(res.Routes) != m.Routes+1 || len(templates) != m.Routes+1 {
		t.Fatalf("%d routes in the result, %d templates, want %d", len(res.Routes), len(templates), m.Routes+1)
	}
	for k, rt := range templates {
		ats := perRoute[rt]
		var want int64
		first, interval := time.Duration(k)*time.Millisecond, time.Second*time.Duration(k+1)/time.Duration(m.Routes)
		if k == m.Routes {
			first, interval = m.NewRouteAt(), time.Second
		}
		for at := first; at < m.Length(); at += interval {
			want++
		}
		if int64(len(ats)) != want || res.Routes[k].Route != rt || res.Routes[k].Lines != want {
			t.Errorf("route %s: %d lines, result %+v, want %d", rt, len(ats), res.Routes[k], want)
			continue
		}
		if ats[0] != first || ats[1]-ats[0] != interval {
			t.Errorf("route %s: first lines at %v and %v, want from %v every %v", rt, ats[0], ats[1], first, interval)
		}
		if res.Routes[k].First != now || res.Routes[k].Second != now {
			t.Errorf("route %s: first and second at %v and %v, want %v", rt, res.Routes[k].First, res.Routes[k].Second, now)
		}
	}
	if len(perRoute) != m.Routes+1 {
		t.Errorf("%d real routes made, want %d: %v", len(perRoute), m.Routes+1, perRoute)
	}
	// Done: a LineGen asked for more goes on with real lines.
	line = g.AppendLine(line[:0], now)
	if err := p.Parse(&r, line); err != nil || !strings.HasPrefix(string(r.Path), "/api/v2/") {
		t.Errorf("a line after the end: %s (%v)", line, err)
	}
}

// TestScannerJunkIndex checks that junk routes give their indexes back,
// per seed, and that other routes are not taken for junk.
func TestScannerJunkIndex(t *testing.T) {
	for _, seed := range []int64{0, 1, -7} {
		shift := junkShift(seed)
		for _, j := range []int64{0, 1, 9, 10, 12345, 999_999, MaxScannerJunk - 1} {
			p := string(appendJunkPath(nil, j, shift))
			got, ok := ScannerJunkIndex(p, seed)
			if !ok || got != j {
				t.Errorf("seed %d: %s gives %d %v, want %d", seed, p, got, ok, j)
			}
			if got, ok := ScannerJunkIndex(p, seed+1); ok && got == j {
				t.Errorf("seed %d: %s is junk %d of the next seed too", seed, p, j)
			}
		}
	}
	for _, rt := range []string{"/wp-admin/", "/wp-admin/abcdefghij.ph", "/wp-admin/abcdefghiJ.php", "/api/v2/cart/{id}", "/wp-admin/abcdefghijk.php"} {
		if j, ok := ScannerJunkIndex(rt, 0); ok {
			t.Errorf("%s is taken for junk %d", rt, j)
		}
	}
}

func TestScannerMix_Normalize(t *testing.T) {
	m, err := ScannerMix{}.normalize()
	if err != nil || m.Routes != 20 || m.JunkPaths != 1_000_000 || m.JunkRate != 20_000 || m.RepeatOneIn != 10 || m.RepeatWithin != 5*time.Second ||
		m.Length() != 60*time.Second || m.NewRouteAt() != 5*time.Second+50*time.Second/3 {
		t.Errorf("defaults %+v (%v), length %v", m, err, m.Length())
	}
	for _, c := range []Config{
		{Scanner: &ScannerMix{Routes: MaxScannerRoutes + 1}},
		{Scanner: &ScannerMix{JunkPaths: -1}},
		{Scanner: &ScannerMix{JunkRate: -5}},
		{Scanner: &ScannerMix{RepeatOneIn: -1}},
		{Scanner: &ScannerMix{After: 2 * time.Hour}},
		{Scanner: &ScannerMix{RepeatWithin: 2 * time.Minute}},
		{Scanner: &ScannerMix{JunkPaths: 1 << 40, JunkRate: 1}},
		{Scanner: &ScannerMix{}, Rate: 100},
		{Scanner: &ScannerMix{}, Routes: true},
		{Scanner: &ScannerMix{}, Unique: 0.5},
	} {
		if _, err := c.Normalize(); err == nil {
			t.Errorf("%+v %+v: no error", c, *c.Scanner)
		}
	}
	// The mix bounds the load: neither Count nor Duration is needed.
	if _, err := (Config{Scanner: &ScannerMix{}}).Normalize(); err != nil {
		t.Errorf("a scanner mix alone: %v", err)
	}
}

// TestSend_Scanner sends a mix of about 2.5 s to a socket and checks that
// Send paced it by the mix's clock: the run lasts the mix's length, every
// line arrived, and the rarest route's second line came a second or more
// after its first.
func TestSend_Scanner(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadBuffer(4 << 20)
	mix := ScannerMix{Routes: 4, JunkPaths: 2000, JunkRate: 2000, RepeatWithin: time.Second, Before: 500 * time.Millisecond, After: time.Second}
	got := make(chan int64, 1)
	go func() {
		buf := make([]byte, 65536)
		var n int64
		for {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			k, err := conn.Read(buf)
			if err != nil {
				got <- n
				return
			}
			n += int64(strings.Count(string(buf[:k]), "\n") + 1)
		}
	}()
	res, err := Send(context.Background(), Config{Targets: []string{conn.LocalAddr().String()}, Scanner: &mix, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := mix.normalize()
	sc := res.Scanner
	if sc == nil || sc.JunkPaths != 2000 || sc.JunkLines != 2200 {
		t.Fatalf("result %+v", sc)
	}
	var real int64
	for _, r := range sc.Routes {
		real += r.Lines
	}
	if res.Lines != sc.JunkLines+real || res.SendErrors != 0 {
		t.Errorf("%d lines, %d send errors; %d junk and %d real lines", res.Lines, res.SendErrors, sc.JunkLines, real)
	}
	if res.Elapsed < m.Length()-100*time.Millisecond {
		t.Errorf("sent in %v, faster than the mix's %v", res.Elapsed, m.Length())
	}
	rarest := sc.Routes[m.Routes-1]
	if d := rarest.Second.Sub(rarest.First); d < time.Second-scanMaxLag-10*time.Millisecond || d > 10*time.Second {
		t.Errorf("the rarest route's second line %v after its first, want a second", d)
	}
	newRoute := sc.Routes[m.Routes]
	if newRoute.Lines == 0 || newRoute.First.Sub(rarest.First) < m.NewRouteAt()-time.Duration(m.Routes)*time.Millisecond-100*time.Millisecond {
		t.Errorf("the new route: %+v; the rarest began at %v", newRoute, rarest.First)
	}
	if n := <-got; n != res.Lines {
		t.Errorf("%d lines arrived, %d sent (the socket's buffer may have overflowed on a busy machine)", n, res.Lines)
	}
}
