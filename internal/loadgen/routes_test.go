package loadgen

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	rt := &routeTally{t: t, res: templateRegexps(), routes: make([]int64, len(RouteTemplates)), junkLen: junkLen, vhosts: map[string]int{}}
	rt.p.Format = f
	return rt
}

func (rt *routeTally) add(line []byte) {
	t := rt.t
	t.Helper()
	require.NoError(t, rt.p.Parse(&rt.r, line), "%s", line)
	r := &rt.r
	path := string(r.Path)
	if strings.HasPrefix(path, "/u") && len(path) == rt.junkLen {
		rt.junk++
	} else {
		i := 0
		for i < len(rt.res) && !rt.res[i].MatchString(path) {
			i++
		}
		require.Less(t, i, len(rt.res), "path %s matches no template", path)
		rt.routes[i]++
	}
	require.Contains(t, RouteVhosts, string(r.Host))
	rt.vhosts[string(r.Host)]++
	require.True(t, r.HasRequestTime, "%s", line)
	require.Positive(t, r.RequestTime)
	require.LessOrEqual(t, r.RequestTime, 10*time.Second)
	up := string(r.Var("upstream_response_time"))
	switch {
	case up == "" || up == "-": // the parser may give "-" as empty
		rt.dashes++
	case strings.Contains(up, ","):
		require.Regexp(t, `^[0-9]+\.[0-9]{3}, [0-9]+\.[0-9]{3} : [0-9]+\.[0-9]{3}$`, up)
		rt.lists++
	default:
		require.Regexp(t, `^[0-9]+\.[0-9]{3}$`, up, "%s", line)
	}
}

func TestLineGen_Routes(t *testing.T) {
	require.Len(t, RouteTemplates, len(routeTemplates))
	require.GreaterOrEqual(t, len(RouteTemplates), 45)
	for _, syslog := range []string{"none", "3164"} {
		g, err := NewLineGen(Config{Routes: true, Unique: 0.2, Syslog: syslog, Seed: 3}, "web01")
		require.NoError(t, err)
		rt := newRouteTally(t, 2048)
		now := time.Date(2026, 11, 5, 21, 22, 9, 0, time.UTC)
		const n = 10000
		var buf []byte
		for range n {
			buf = g.AppendLine(buf[:0], now)
			require.LessOrEqual(t, len(buf), g.MaxLine())
			rt.add(buf)
		}
		routes, junk := g.Routes()
		assert.Equal(t, int64(n/5), junk, "Unique 0.2 of the lines are junk")
		assert.Equal(t, rt.junk, junk)
		for i, rc := range routes {
			assert.Equal(t, RouteTemplates[i], rc.Route)
			assert.Equal(t, rt.routes[i], rc.Lines, "route %s", rc.Route)
			assert.Positive(t, rc.Lines, "route %s never made", rc.Route)
		}
		assert.Len(t, rt.vhosts, len(RouteVhosts))
		assert.InDelta(t, n/8, rt.lists, n/40, "about one in eight upstream times is a list")
		assert.InDelta(t, n/8, rt.dashes, n/40, "about one in eight is \"-\"")
	}
}

func TestLineGen_RoutesDeterministic(t *testing.T) {
	lines := func(seed int64, at time.Time) []string {
		g, err := NewLineGen(Config{Routes: true, Unique: 0.1, PathLength: 100, Seed: seed}, "web01")
		require.NoError(t, err)
		var out []string
		for range 50 {
			out = append(out, string(g.AppendLine(nil, at)))
		}
		return out
	}
	now := time.Date(2026, 11, 5, 0, 30, 0, 0, time.UTC)
	a := lines(1, now)
	assert.Equal(t, a, lines(1, now))
	assert.NotEqual(t, a, lines(2, now))
	// Only the time differs at another time.
	b := lines(1, now.Add(time.Hour))
	for i := range a {
		assert.Equal(t, a[i], strings.Replace(b[i], "01:30:00", "00:30:00", 1))
	}
}

func TestConfig_RoutesErrors(t *testing.T) {
	_, err := Config{Count: 1, Routes: true, Paths: 2}.Normalize()
	assert.ErrorContains(t, err, "paths 2 with routes")
	_, err = Config{Count: 1, Routes: true, Unique: 0.5, PathLength: 10}.Normalize()
	assert.ErrorContains(t, err, "path length 10 out of range")
	_, err = Config{Count: 1, Sources: MaxSources + 1}.Normalize()
	assert.ErrorContains(t, err, "sources 257 out of range")
	c, err := Config{Count: 1, Routes: true}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, 2048, c.PathLength, "junk paths are 2 KiB by default")
	assert.Equal(t, 1, c.Sources)
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
	require.NoError(t, err)
	require.Equal(t, int64(n), res.Lines)
	require.Zero(t, res.SendErrors)

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
	require.Len(t, dgs, int(res.Datagrams))
	assert.Len(t, ports, sources)
	for p, c := range ports {
		assert.InDelta(t, int(res.Datagrams)/sources, c, 4, "port %v", p)
	}
	rt := newRouteTally(t, 300)
	for _, d := range dgs {
		for line := range strings.SplitSeq(string(d), "\n") {
			rt.add([]byte(line))
		}
	}
	assert.Equal(t, res.Junk, rt.junk)
	assert.InDelta(t, n*3/10, res.Junk, 1)
	var sum int64
	for i, rc := range res.Routes {
		assert.Equal(t, rt.routes[i], rc.Lines, "route %s", rc.Route)
		sum += rc.Lines
	}
	assert.Equal(t, int64(n), sum+res.Junk)
}

// TestLineGen_RoutesTemplated checks that the route package's automatic
// classes give every generated API path its template, so that a receiver's
// per-route counts can be compared with Result.Routes, and counts what
// junk paths become.
func TestLineGen_RoutesTemplated(t *testing.T) {
	tm, err := route.New(route.Config{})
	require.NoError(t, err)
	g, err := NewLineGen(Config{Routes: true, Unique: 0.1, Seed: 5}, "web01")
	require.NoError(t, err)
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
		require.Equal(t, RouteTemplates[i], got, "path %s", r.Path)
	}
	t.Logf("%d junk paths gave %d routes", rt.junk, len(junkRoutes))
	assert.Positive(t, len(junkRoutes))
}
