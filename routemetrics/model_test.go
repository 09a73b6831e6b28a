package routemetrics

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/admission"
)

// The model test: a program of operations (lines of a small set of keys,
// expiry, forced evictions, halvings of the admission filter, scrapes) runs
// against the Store and a slow reference that only adds up what was
// observed. After every operation the store stays within its budget and
// its bookkeeping matches its tables; at every scrape and at the end, the
// sum of every counter over the store's series and the counts of expired
// keys equals the reference's, held keys never count more than the lines
// of their key, and no series went down since the last scrape unless an
// expiry came between, or an eviction for a route's own series (which
// starts again from zero when the route is admitted again).

// refTotals are the sums the store must match: requests, bytes, and each
// histogram cell (per histogram: bucket counts then the sum in ns).
type refTotals struct {
	requests, resp, req uint64
	cells               []uint64
}

func (r *refTotals) init(nb int) { r.cells = make([]uint64, 2*(nb+2)) }

// observe adds one line of values v, as the store would count it.
func (r *refTotals) observe(bounds []int64, v *values) {
	r.requests++
	r.resp += uint64(v.resp)
	if v.hasReq {
		r.req += uint64(v.req)
	}
	nb := len(bounds)
	for which, d := range [2]time.Duration{v.dur, v.up} {
		if which == 0 && !v.hasDur || which == 1 && !v.hasUp {
			continue
		}
		i := 0
		for i < nb && int64(d) > bounds[i] {
			i++
		}
		r.cells[which*(nb+2)+i]++
		r.cells[which*(nb+2)+nb+1] += uint64(d)
	}
}

// add adds what e and h (which may be nil) hold.
func (r *refTotals) add(e *entry, h *classHist) {
	if e != nil {
		r.requests += e.requests.Load()
		r.resp += e.respBytes.Load()
		r.req += e.reqBytes.Load()
	}
	if h != nil {
		for i := range h.v {
			r.cells[i] += h.v[i].Load()
		}
	}
}

func (r *refTotals) equal(o *refTotals) bool {
	if r.requests != o.requests || r.resp != o.resp || r.req != o.req {
		return false
	}
	for i := range r.cells {
		if r.cells[i] != o.cells[i] {
			return false
		}
	}
	return true
}

// storeTotals adds up everything the store holds, its sink included.
func storeTotals(s *Store) refTotals {
	var t refTotals
	t.init(len(s.bounds))
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			for _, e := range *g.entries.Load() {
				t.add(e, nil)
			}
			for c := range g.hists {
				t.add(nil, g.hists[c].Load())
			}
		})
	}
	t.add(&s.sink, nil)
	for c := range s.sinkHist {
		t.add(nil, &s.sinkHist[c])
	}
	return t
}

// checkBudget checks the store's counts of keys and bytes against its
// tables and its limits.
func checkBudget(t *testing.T, s *Store) {
	t.Helper()
	keys, size := held(s)
	var regular, catchAll, global int
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			n := len(*g.entries.Load())
			switch g.kind {
			case kindRegular:
				regular += n
			case kindCatchAll:
				catchAll += n
			default:
				global += n
			}
		})
	}
	st := s.Stats()
	if st.Series != keys || int(s.regular.Load()) != regular || int(s.catchAlls.Load()) != catchAll ||
		st.Bytes-st.AdmissionBytes != size {
		t.Fatalf("Stats: %d series (%d regular, %d catch-all), %d bytes; tables: %d keys (%d, %d), %d bytes",
			st.Series, s.regular.Load(), s.catchAlls.Load(), st.Bytes-st.AdmissionBytes, keys, regular, catchAll, size)
	}
	if keys > st.Limit || int64(regular) > s.regularCap || int64(catchAll) > s.catchAllCap || global > 1 {
		t.Fatalf("%d keys (%d regular, %d catch-all, %d global), limits %d, %d, %d",
			keys, regular, catchAll, global, st.Limit, s.regularCap, s.catchAllCap)
	}
}

// modelKey names the keys of a program: vhost, route, method and status
// from small sets, so that keys repeat; a few routes are spelled like
// catch-alls.
func modelKey(a, b byte) (vhost, route, method string, status int, pattern bool) {
	vhost = "v" + strconv.Itoa(int(a%3))
	route = "/r" + strconv.Itoa(int(a/3%7))
	switch a / 3 % 16 {
	case 14:
		route = Unadmitted // spelled like a catch-all
	case 15:
		route = Overflow
	}
	method = [...]string{"GET", "POST", "BREW"}[b%3]
	status = [...]int{200, 201, 404, 500, 0}[b/3%5]
	return vhost, route, method, status, b/15%8 == 0
}

// modelValues returns the values of a line.
func modelValues(a, b byte) values {
	return values{
		resp: int64(a) * 7, req: int64(b), hasReq: b&0x40 != 0,
		dur: time.Duration(a) * 3 * time.Millisecond, hasDur: b&0x80 != 0,
		up: time.Duration(b) * time.Millisecond, hasUp: a&1 != 0,
	}
}

// forceEvict evicts the coldest group sampled from the shard of hash h, as
// a candidate that beats every count would.
func forceEvict(s *Store, h uint64) {
	if g, sh, f := s.sampleVictim(h, nil); g != nil {
		s.evictGroup(sh, g, f)
	}
}

// runModel runs program prog, whose first bytes choose the configuration.
func runModel(t *testing.T, prog []byte) {
	if len(prog) < 2 {
		return
	}
	cfg := Config{
		MaxSeries:   [...]int{3, 12, 40, 60}[prog[0]%4],
		AdmitAfter:  1 + int(prog[0]/4%3),
		NoEviction:  prog[0]&0x20 != 0,
		SeriesIdle:  time.Minute,
		AdmitWindow: 30 * time.Second,
		SketchKeys:  64,
		// Small tables: a program is short, and New should be cheap.
		DoorkeeperKeys: 1024,
		Buckets:        []float64{0.01, 0.1, 1},
	}
	if prog[1]&1 != 0 {
		cfg.CollapseUnmatched = []int{404}
	}
	s := mustNew(t, cfg)
	now := time.Now()
	s.Expire(now)
	var ref refTotals
	ref.init(len(s.bounds))
	perKey := map[string]uint64{}
	var last map[string]uint64 // the last scrape
	expiredSince := false
	var evictedBefore uint64
	check := func() {
		t.Helper()
		got := storeTotals(s)
		if !got.equal(&ref) {
			t.Fatalf("store and sink hold %+v, observed %+v", got, ref)
		}
		// A key with a series of its own counts at most its lines (a
		// route spelled like a catch-all shares its series with it).
		for i := range s.shards {
			s.shards[i].t.Load().each(func(g *group) {
				if g.kind != kindRegular || g.route == Unadmitted || g.route == Overflow {
					return
				}
				for _, e := range *g.entries.Load() {
					k := g.key + "\x00" + strconv.Itoa(int(e.status))
					if n := e.requests.Load(); n > perKey[k] {
						t.Fatalf("%q counts %d lines, %d observed", k, n, perKey[k])
					}
				}
			})
		}
		m := scrape(t, s)
		if sum := sumOf(t, m, "http_requests_total") + s.Stats().ExpiredRequests; sum != ref.requests {
			t.Fatalf("exposition sums to %d requests with the expired, %d observed", sum, ref.requests)
		}
		cur := map[string]uint64{}
		for k, v := range m {
			if strings.HasPrefix(k, "http_") && !strings.Contains(k, "_sum{") {
				n, _ := strconv.ParseUint(v, 10, 64)
				cur[k] = n
			}
		}
		evicted := s.Stats().Evicted
		if !expiredSince {
			for k, n := range cur {
				catchAll := strings.Contains(k, `route="`+Overflow+`"`) || strings.Contains(k, `route="`+Unadmitted+`"`) ||
					strings.Contains(k, `route="`+Unmatched+`"`)
				if p, ok := last[k]; ok && n < p && (catchAll || evicted == evictedBefore) {
					t.Fatalf("%s went from %d to %d", k, p, n)
				}
			}
		}
		last, expiredSince, evictedBefore = cur, false, evicted
	}
	for i := 2; i+2 < len(prog); i += 3 {
		op, a, b := prog[i], prog[i+1], prog[i+2]
		switch op % 10 {
		case 0, 1, 2, 3, 4, 5:
			vhost, route, method, status, pattern := modelKey(a, b)
			v := modelValues(a, b)
			o := &Observation{VHost: []byte(vhost), Route: []byte(route), Method: []byte(method), Status: status,
				ResponseBytes: v.resp, RequestBytes: v.req, HasRequestBytes: v.hasReq,
				Duration: v.dur, HasDuration: v.hasDur, Upstream: v.up, HasUpstream: v.hasUp, Pattern: pattern}
			s.Observe(o)
			ref.observe(s.bounds, &v)
			var kb [keyCap]byte
			k := string(s.appendKey(kb[:0], o.VHost, o.Route, methodIndex(o.Method))) + "\x00" + strconv.Itoa(int(statusKey(status)))
			perKey[k]++
		case 6:
			now = now.Add(time.Duration(a) * time.Second)
			if s.Expire(now) > 0 {
				expiredSince = true
			}
		case 7:
			forceEvict(s, uint64(a)<<56|uint64(b)<<48)
		case 8:
			s.adm.Halve()
		case 9:
			check()
		}
		checkBudget(t, s)
	}
	check()
}

// FuzzModel runs programs of operations against the store and the
// reference; see runModel.
func FuzzModel(f *testing.F) {
	f.Add([]byte{0x00, 0, 0, 1, 2, 0, 1, 2, 9, 0, 0})
	f.Add([]byte{0x05, 1, 0, 10, 20, 1, 10, 20, 7, 0, 0, 6, 70, 0, 9, 0, 0})
	f.Add([]byte{0x22, 0, 3, 200, 9, 3, 200, 9, 8, 0, 0, 3, 200, 9, 9, 0, 0})
	rng := rand.New(rand.NewPCG(31, 32))
	for range 8 {
		p := make([]byte, 600)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		f.Add(p)
	}
	f.Fuzz(runModel)
}

// TestModelRandom runs many longer random programs than the fuzz seeds.
func TestModelRandom(t *testing.T) {
	n := 100
	if testing.Short() || raceEnabled {
		n = 20
	}
	rng := rand.New(rand.NewPCG(33, 34))
	for range n {
		p := make([]byte, 2000)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		runModel(t, p)
	}
}

// TestModelConcurrent counts lines from several goroutines while another
// expires with a clock running ahead, forces evictions, halves the filter
// and scrapes: the budget holds throughout, and once they stop, the store
// and its sink hold exactly what was observed, every counter and
// histogram cell. Run with -race.
func TestModelConcurrent(t *testing.T) {
	for _, cfg := range []Config{
		{MaxSeries: 40, SeriesIdle: time.Second, SketchKeys: 64, Buckets: []float64{0.01, 0.1, 1}},
		{MaxSeries: 12, SeriesIdle: time.Second, AdmitAfter: 1, CollapseUnmatched: []int{404}, Buckets: []float64{0.01}},
	} {
		s := mustNew(t, cfg)
		const writers = 3
		per := 20_000
		if raceEnabled {
			per = 5_000
		}
		refs := make([]refTotals, writers)
		var wg sync.WaitGroup
		for w := range writers {
			refs[w].init(len(s.bounds))
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 35))
				for range per {
					a, b := byte(rng.Uint32()), byte(rng.Uint32())
					vhost, route, method, status, pattern := modelKey(a, b)
					v := modelValues(a, b)
					s.Observe(&Observation{VHost: []byte(vhost), Route: []byte(route), Method: []byte(method),
						Status: status, ResponseBytes: v.resp, RequestBytes: v.req, HasRequestBytes: v.hasReq,
						Duration: v.dur, HasDuration: v.hasDur, Upstream: v.up, HasUpstream: v.hasUp, Pattern: pattern})
					refs[w].observe(s.bounds, &v)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		var ops atomic.Int64
		now := time.Now()
		deadline := time.After(2 * time.Minute)
	loop:
		for i := 0; ; i++ {
			select {
			case <-done:
				break loop
			case <-deadline:
				t.Fatal("writers did not finish")
			default:
			}
			switch i % 4 {
			case 0:
				now = now.Add(700 * time.Millisecond)
				s.Expire(now)
			case 1:
				forceEvict(s, uint64(i)*0x9e3779b97f4a7c15)
			case 2:
				s.adm.Halve()
			case 3:
				var b bytes.Buffer
				if err := s.WritePrometheus(&b); err != nil {
					t.Fatal(err)
				}
			}
			if st := s.Stats(); st.Series > st.Limit || s.regular.Load() > s.regularCap || s.catchAlls.Load() > s.catchAllCap {
				t.Fatalf("over budget: %+v", st)
			}
			ops.Add(1)
		}
		var want refTotals
		want.init(len(s.bounds))
		for w := range refs {
			want.requests += refs[w].requests
			want.resp += refs[w].resp
			want.req += refs[w].req
			for i := range want.cells {
				want.cells[i] += refs[w].cells[i]
			}
		}
		if got := storeTotals(s); !got.equal(&want) {
			t.Errorf("store and sink hold %+v, observed %+v", got, want)
		}
		checkBudget(t, s)
		st := s.Stats()
		t.Logf("%d lines, %d background operations: %d evicted, %d expired (%d lines), %d unadmitted, %d overflow, %d collapsed",
			want.requests, ops.Load(), st.Evicted, st.Expired, st.ExpiredRequests, st.Unadmitted, st.Overflows, st.Collapsed)
		if st.Evicted == 0 || st.Expired == 0 {
			t.Errorf("the run evicted %d and expired %d keys: it tested nothing", st.Evicted, st.Expired)
		}
	}
}

var _ = admission.MaxEstimate
