package routemetrics

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryBound feeds a million lines, half with distinct IDs in API
// paths and half with distinct 2 KiB junk paths, and checks that the store
// keeps at most MaxSeries keys, that every line is counted, and that the
// live heap grew by less than the store's limit in bytes.
func TestMemoryBound(t *testing.T) {
	lines := 1_000_000
	if testing.Short() || raceEnabled {
		// The race detector makes each line ten times dearer.
		lines = 100_000
	}
	const maxSeries = DefaultMaxSeries
	s := mustNew(t, Config{})
	before := liveHeap()
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 2048)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%"
	for i := range junk {
		junk[i] = alphabet[rng.IntN(len(alphabet))]
	}
	for i := 0; i < len(junk); i += 1 + rng.IntN(40) {
		junk[i] = '/'
	}
	api := make([]byte, 0, 64)
	var r ingest.Request
	methods := [][]byte{[]byte("GET"), []byte("POST"), []byte("DELETE")}
	for i := range lines {
		r.Method = methods[i%len(methods)]
		r.Status = []int{200, 201, 404, 500, 302}[i%5]
		r.BodyBytesSent = int64(i % 1000)
		r.RequestTime, r.HasRequestTime = time.Duration(i%5000)*time.Microsecond, true
		if i%2 == 0 {
			api = append(api[:0], "/api/v1/users/"...)
			api = strconv.AppendInt(api, int64(i), 10)
			api = append(api, "/orders/"...)
			api = strconv.AppendInt(api, int64(rng.Uint32()), 10)
			r.Path = api
		} else {
			// A distinct junk path: rewrite a few bytes in place.
			for k := 1; k < len(junk); k += 97 {
				if junk[k] != '/' {
					junk[k] = alphabet[rng.IntN(62)]
				}
			}
			r.Path = junk
		}
		s.ServeLine(&r)
	}
	st := s.Stats()
	after := liveHeap()
	growth := int64(after) - int64(before)
	t.Logf("%d lines: %d series, %d overflows, estimated %d B (limit %d B), live heap +%d B",
		lines, st.Series, st.Overflows, st.Bytes, st.LimitBytes, growth)
	if st.Series > maxSeries {
		t.Errorf("%d series, limit %d", st.Series, maxSeries)
	}
	if growth > st.LimitBytes {
		t.Errorf("live heap grew %d B, over the limit of %d B", growth, st.LimitBytes)
	}
	var sum uint64
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			for _, e := range *g.entries.Load() {
				sum += e.requests.Load()
			}
		})
	}
	if sum != uint64(lines) {
		t.Errorf("series sum to %d lines, want %d", sum, lines)
	}
	runtime.KeepAlive(s)
}

// TestBytesPerKey measures the live heap a key costs, in the cheapest
// shape (many statuses of one route) and the dearest (each key its own
// route, with the longest labels, and a histogram), and checks the
// store's estimate against it.
func TestBytesPerKey(t *testing.T) {
	const n = 2000
	shapes := []struct {
		name  string
		key   func(i int) *Observation
		worst bool
	}{
		{"short route, own group", func(i int) *Observation {
			return obs("api.example", "/users/{id}/orders/"+strconv.Itoa(i), "GET", 200)
		}, false},
		{"longest labels, own group", func(i int) *Observation {
			v := []byte(strconvPad(i, MaxVHostLen))
			r := []byte("/" + strconvPad(i, MaxRouteLen-1))
			return &Observation{VHost: v, Route: r, Method: []byte("GET"), Status: 200}
		}, true},
	}
	for _, sh := range shapes {
		obsv := make([]*Observation, n)
		for i := range obsv {
			obsv[i] = sh.key(i)
			obsv[i].Duration, obsv[i].HasDuration = time.Millisecond, true
		}
		s := mustNew(t, firstCome(Config{MaxSeries: 2 * n}))
		before := liveHeap()
		for _, o := range obsv {
			s.Observe(o)
		}
		after := liveHeap()
		st := s.Stats()
		measured := float64(int64(after)-int64(before)) / n
		estimated := float64(st.Bytes-st.AdmissionBytes) / n
		t.Logf("%s: measured %.0f B/key, estimated %.0f B/key, bound %d B/key", sh.name, measured, estimated, s.maxKeyBytes())
		if measured > float64(s.maxKeyBytes()) {
			t.Errorf("%s: %.0f B/key measured, over the bound %d", sh.name, measured, s.maxKeyBytes())
		}
		if estimated < 0.8*measured || estimated > 1.5*measured {
			t.Errorf("%s: estimate %.0f B/key is off the measured %.0f B/key", sh.name, estimated, measured)
		}
		runtime.KeepAlive(s)
		runtime.KeepAlive(obsv)
	}
}

// strconvPad returns i in decimal, padded with 'x' to n bytes.
func strconvPad(i, n int) string {
	b := strconv.AppendInt(nil, int64(i), 10)
	for len(b) < n {
		b = append(b, 'x')
	}
	return string(b)
}
