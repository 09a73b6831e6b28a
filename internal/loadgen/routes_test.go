package loadgen

import (
	"bytes"
	"context"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/udptest"
	"github.com/flatheap/ingest/route"
)

// templateRegexps matches a path against each of RouteTemplates, with the
// placeholders as documented there.
func templateRegexps() []*regexp.Regexp {
	ph := strings.NewReplacer(
		regexp.QuoteMeta(placeholderID), `[1-9][0-9]{0,8}`,
		regexp.QuoteMeta(placeholderUUID), `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`,
		regexp.QuoteMeta(placeholderHex), `[a-f][0-9][0-9a-f]{22}`,
	)
	out := make([]*regexp.Regexp, len(RouteTemplates))
	for i, t := range RouteTemplates {
		out[i] = regexp.MustCompile("^" + ph.Replace(regexp.QuoteMeta(t)) + "$")
	}
	return out
}

// routeTally counts parsed Config.Routes lines by the template their path
// matches, or as junk, and fails the test on a line that does not parse
// with RoutesLogFormat or does not hold what the format promises.
type routeTally struct {
	t       *testing.T
	p       ingest.Parser
	r       ingest.Request
	res     []*regexp.Regexp
	routes  []int64
	junk    int64
	junkLen int
	vhosts  map[string]int
	lists   int // upstream times logged as lists
	dashes  int // upstream times logged as "-"
}

func newRouteTally(t *testing.T, junkLen int) *routeTally {
	f, err := ingest.CompileNginx(RoutesLogFormat)
	if err != nil {
		t.Fatal(err)
	}
	rt := &routeTally{t: t, res: templateRegexps(), routes: make([]int64, len(RouteTemplates)), junkLen: junkLen, vhosts: map[string]int{}}
	rt.p.Format = f
	return rt
}

func (rt *routeTally) add(line []byte) {
	t := rt.t
	t.Helper()
	if err := rt.p.Parse(&rt.r, line); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	r := &rt.r
	path := string(r.Path)
	if strings.HasPrefix(path, "/u") && len(path) == rt.junkLen {
		rt.junk++
	} else {
		i := 0
		for i < len(rt.res) && !rt.res[i].MatchString(path) {
			i++
		}
		if i >= len(rt.res) {
			t.Fatalf("path %s matches no template: i = %v, want < %v", path, i, len(rt.res))
		}
		rt.routes[i]++
	}
	if !slices.Contains(RouteVhosts, string(r.Host)) {
		t.Fatalf("RouteVhosts = %q, want it to contain %q", RouteVhosts, string(r.Host))
	}
	rt.vhosts[string(r.Host)]++
	if !r.HasRequestTime {
		t.Fatalf("%s: no request time", line)
	}
	if r.RequestTime <= 0 {
		t.Fatalf("r.RequestTime = %v, want > 0", r.RequestTime)
	}
	if r.RequestTime > 10*time.Second {
		t.Fatalf("r.RequestTime = %v, want <= %v", r.RequestTime, 10*time.Second)
	}
	up := string(r.Var("upstream_response_time"))
	switch {
	case up == "" || up == "-": // the parser may give "-" as empty
		rt.dashes++
	case strings.Contains(up, ","):
		if re := `^[0-9]+\.[0-9]{3}, [0-9]+\.[0-9]{3} : [0-9]+\.[0-9]{3}$`; !regexp.MustCompile(re).MatchString(up) {
			t.Fatalf("up = %q, want a match for %s", up, re)
		}
		rt.lists++
	default:
		if re := `^[0-9]+\.[0-9]{3}$`; !regexp.MustCompile(re).MatchString(up) {
			t.Fatalf("%s: up = %q, want a match for %s", line, up, re)
		}
	}
}

func TestLineGen_Routes(t *testing.T) {
	if len(RouteTemplates) != len(routeTemplates) {
		t.Fatalf("len(RouteTemplates) = %d, want %d", len(RouteTemplates), len(routeTemplates))
	}
	if len(RouteTemplates) < 45 {
		t.Fatalf("len(RouteTemplates) = %v, want >= 45", len(RouteTemplates))
	}
	for _, syslog := range []string{"none", "3164"} {
		g, err := NewLineGen(Config{Routes: true, Unique: 0.2, Syslog: syslog, Seed: 3}, "web01")
		if err != nil {
			t.Fatal(err)
		}
		rt := newRouteTally(t, 2048)
		now := time.Date(2026, 11, 5, 21, 22, 9, 0, time.UTC)
		const n = 10000
		var buf []byte
		for range n {
			buf = g.AppendLine(buf[:0], now)
			if len(buf) > g.MaxLine() {
				t.Fatalf("len(buf) = %v, want <= %v", len(buf), g.MaxLine())
			}
			rt.add(buf)
		}
		routes, junk := g.Routes()
		if junk != int64(n/5) {
			t.Errorf("Unique 0.2 of the lines are junk: junk = %v, want %v", junk, int64(n/5))
		}
		if junk != rt.junk {
			t.Errorf("junk = %v, want %v", junk, rt.junk)
		}
		for i, rc := range routes {
			if rc.Route != RouteTemplates[i] {
				t.Errorf("rc.Route = %q, want %q", rc.Route, RouteTemplates[i])
			}
			if rc.Lines != rt.routes[i] {
				t.Errorf("route %s: rc.Lines = %v, want %v", rc.Route, rc.Lines, rt.routes[i])
			}
			if rc.Lines <= 0 {
				t.Errorf("route %s never made: rc.Lines = %v, want > 0", rc.Route, rc.Lines)
			}
		}
		if len(rt.vhosts) != len(RouteVhosts) {
			t.Errorf("len(rt.vhosts) = %d, want %d", len(rt.vhosts), len(RouteVhosts))
		}
		if math.Abs(float64(rt.lists)-float64(n/8)) > n/40 {
			t.Errorf("about one in eight upstream times is a list: rt.lists = %v, want %v ± %v", rt.lists, n/8, n/40)
		}
		if math.Abs(float64(rt.dashes)-float64(n/8)) > n/40 {
			t.Errorf("about one in eight is \"-\": rt.dashes = %v, want %v ± %v", rt.dashes, n/8, n/40)
		}
	}
}

func TestLineGen_RoutesDeterministic(t *testing.T) {
	lines := func(seed int64, at time.Time) []string {
		g, err := NewLineGen(Config{Routes: true, Unique: 0.1, PathLength: 100, Seed: seed}, "web01")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for range 50 {
			out = append(out, string(g.AppendLine(nil, at)))
		}
		return out
	}
	now := time.Date(2026, 11, 5, 0, 30, 0, 0, time.UTC)
	a := lines(1, now)
	if got := lines(1, now); !slices.Equal(got, a) {
		t.Errorf("lines(1, now) = %q, want %q", got, a)
	}
	if got := lines(2, now); slices.Equal(got, a) {
		t.Errorf("lines(2, now) = %q, want anything else", got)
	}
	// Only the time differs at another time.
	b := lines(1, now.Add(time.Hour))
	for i := range a {
		if got := strings.Replace(b[i], "01:30:00", "00:30:00", 1); got != a[i] {
			t.Errorf("got %q, want %q", got, a[i])
		}
	}
}

func TestConfig_RoutesErrors(t *testing.T) {
	_, err := Config{Count: 1, Routes: true, Paths: 2}.Normalize()
	if err == nil || !strings.Contains(err.Error(), "paths 2 with routes") {
		t.Errorf("error %v, want one containing %q", err, "paths 2 with routes")
	}
	_, err = Config{Count: 1, Routes: true, Unique: 0.5, PathLength: 10}.Normalize()
	if err == nil || !strings.Contains(err.Error(), "path length 10 out of range") {
		t.Errorf("error %v, want one containing %q", err, "path length 10 out of range")
	}
	_, err = Config{Count: 1, Sources: MaxSources + 1}.Normalize()
	if err == nil || !strings.Contains(err.Error(), "sources 257 out of range") {
		t.Errorf("error %v, want one containing %q", err, "sources 257 out of range")
	}
	c, err := Config{Count: 1, Routes: true}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.PathLength != 2048 {
		t.Errorf("junk paths are 2 KiB by default: c.PathLength = %v, want 2048", c.PathLength)
	}
	if c.Sources != 1 {
		t.Errorf("c.Sources = %v, want 1", c.Sources)
	}
}

// TestSend_RoutesFromSources sends route traffic from several source
// ports and checks that the receiver got what Result says was sent, per
// route, and that every source port was used.
func TestSend_RoutesFromSources(t *testing.T) {
	noLeaks(t)
	conn := udptest.Listen(t, "udp4", "127.0.0.1:0")
	var mu sync.Mutex
	var dgs [][]byte
	ports := map[netip.AddrPort]int{}
	udptest.Receive(t, conn, func(dg []byte, from netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		dgs = append(dgs, bytes.Clone(dg))
		ports[from]++
	})

	const n, sources = 3000, 5
	res, err := Send(context.Background(), Config{
		Targets: []string{conn.LocalAddr().String()}, Count: n, Rate: 50000, Routes: true,
		Unique: 0.3, PathLength: 300, Sources: sources, LinesPerDatagram: 2, Batch: 4, Seed: 9,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != int64(n) {
		t.Fatalf("res.Lines = %v, want %v", res.Lines, int64(n))
	}
	if res.SendErrors != 0 {
		t.Fatalf("res.SendErrors = %v, want 0", res.SendErrors)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := len(dgs)
		mu.Unlock()
		if int64(got) >= res.Datagrams || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dgs) != int(res.Datagrams) {
		t.Fatalf("len(dgs) = %d, want %d", len(dgs), int(res.Datagrams))
	}
	if len(ports) != sources {
		t.Errorf("len(ports) = %d, want %d", len(ports), sources)
	}
	for p, c := range ports {
		if math.Abs(float64(c)-float64(int(res.Datagrams)/sources)) > 4 {
			t.Errorf("port %v: c = %v, want %v ± %v", p, c, int(res.Datagrams)/sources, 4)
		}
	}
	rt := newRouteTally(t, 300)
	for _, d := range dgs {
		for line := range strings.SplitSeq(string(d), "\n") {
			rt.add([]byte(line))
		}
	}
	if rt.junk != res.Junk {
		t.Errorf("rt.junk = %v, want %v", rt.junk, res.Junk)
	}
	if math.Abs(float64(res.Junk)-float64(n*3/10)) > 1 {
		t.Errorf("res.Junk = %v, want %v ± %v", res.Junk, n*3/10, 1)
	}
	var sum int64
	for i, rc := range res.Routes {
		if rc.Lines != rt.routes[i] {
			t.Errorf("route %s: rc.Lines = %v, want %v", rc.Route, rc.Lines, rt.routes[i])
		}
		sum += rc.Lines
	}
	if sum+res.Junk != int64(n) {
		t.Errorf("sum+res.Junk = %v, want %v", sum+res.Junk, int64(n))
	}
}

// TestLineGen_RoutesTemplated checks that the route package's automatic
// classes give every generated API path its template, so that a receiver's
// per-route counts can be compared with Result.Routes, and counts what
// junk paths become.
func TestLineGen_RoutesTemplated(t *testing.T) {
	tm, err := route.New(route.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewLineGen(Config{Routes: true, Unique: 0.1, Seed: 5}, "web01")
	if err != nil {
		t.Fatal(err)
	}
	rt := newRouteTally(t, 2048)
	junkRoutes := map[string]int{}
	var buf []byte
	now := time.Now()
	for range 5000 {
		buf = g.AppendLine(buf[:0], now)
		rt.add(buf)
		r := &rt.r
		got := tm.Route(r.Method, r.Path)
		if len(r.Path) == 2048 {
			junkRoutes[got]++
			continue
		}
		i := slices.IndexFunc(rt.res, func(re *regexp.Regexp) bool { return re.Match(r.Path) })
		if got != RouteTemplates[i] {
			t.Fatalf("path %s: got = %q, want %q", r.Path, got, RouteTemplates[i])
		}
	}
	t.Logf("%d junk paths gave %d routes", rt.junk, len(junkRoutes))
	if len(junkRoutes) <= 0 {
		t.Errorf("len(junkRoutes) = %v, want > 0", len(junkRoutes))
	}
}
