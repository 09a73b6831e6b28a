package heapwatch

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakSeries reads the samples of one receiver written by the soak
// (a CSV file with a header naming its columns), from the given second of
// the run on, as soak judges them after its warm-up.
func soakSeries(t *testing.T, path string, from float64) []Sample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := make(map[string]int)
	for i, name := range rows[0] {
		col[name] = i
	}
	var out []Sample
	for _, row := range rows[1:] {
		num := func(name string) uint64 {
			i, ok := col[name]
			if !ok {
				t.Fatalf("%s: no column %q", path, name)
			}
			v, err := strconv.ParseUint(row[i], 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, name, err)
			}
			return v
		}
		sec, err := strconv.ParseFloat(row[col["seconds"]], 64)
		if err != nil {
			t.Fatal(err)
		}
		if sec < from {
			continue
		}
		rss := num("rss_bytes")
		out = append(out, Sample{
			Time:         t0.Add(time.Duration(sec * float64(time.Second))),
			LiveBytes:    num("live_bytes"),
			Objects:      num("objects"),
			HeapObjects:  num("heap_objects_bytes"),
			HeapUnused:   num("heap_unused_bytes"),
			HeapFree:     num("heap_free_bytes"),
			HeapReleased: num("heap_released_bytes"),
			Total:        num("total_bytes"),
			Goroutines:   num("goroutines"),
			GCCycles:     num("gc_cycles"),
			RSS:          rss,
			RSSKnown:     rss > 0,
		})
	}
	if len(out) < defaultMinSamples {
		t.Fatalf("%s: %d samples from %gs on", path, len(out), from)
	}
	return out
}

// soakWarmup is the warm-up soak leaves out of its verdicts.
const soakWarmup = 15

// Views of 64 KiB buffers kept as map keys, at 1,500 lines a second: the
// live heap rises by 2 GiB steadily, then the newest sample, taken as the
// receiver shut down, finds it all freed. One low reading is not a fall
// back: the verdict is still pinned buffers.
func TestAnalyze_SoakViews(t *testing.T) {
	s := soakSeries(t, "testdata/soak-long-paths-views.csv", soakWarmup)
	for _, w := range [][]Sample{s, s[:len(s)-1]} {
		r := Analyze(w, AnalyzeOptions{Window: -1})
		if r.Growth != PinnedBuffers {
			t.Errorf("%d samples: %s (%s), want pinned buffers", len(w), r, r.Reason)
		}
	}
}

// One Prometheus series per raw path, scraped every 5 seconds: the map
// grows per key and each scrape builds a buffer as big as several times
// the map, live at the collections that run meanwhile. The live points
// saw far above their floor, which rises steadily with the objects: values
// kept per key, with the memory the scrapes leave the runtime holding
// named second.
func TestAnalyze_SoakLabels(t *testing.T) {
	s := soakSeries(t, "testdata/soak-routes-labels.csv", soakWarmup)
	r := Analyze(s, AnalyzeOptions{Window: -1})
	if r.Growth != PerKey {
		t.Fatalf("%s (%s), want values kept per key", r, r.Reason)
	}
	if line := r.String(); !strings.Contains(line, "; retained memory rises too") {
		t.Errorf("%q does not name the retained rise", line)
	}
}

// The shape of the views series: a steady rise of big buffers per new key,
// and a newest sample from a process that has let go of everything.
func TestAnalyze_SteadyRiseThenTeardownSample(t *testing.T) {
	for seed := range uint64(10) {
		p := flatProc(seed)
		p.seconds = 47
		p.gcPeriod = 1
		p.live = linear(800*mib, 48*mib)
		p.objs = linear(26e3, 1500)
		p.garbage, p.garbageObj = 1*mib, 500
		p.retained = linear(830*mib, 48*mib)
		p.rss = linear(80*mib, 3*mib)
		s := p.samples()
		last := &s[len(s)-1]
		last.LiveBytes, last.Objects, last.HeapObjects = 700*kib, 1500, 900*kib
		r := Analyze(s, AnalyzeOptions{Window: -1})
		if r.Growth != PinnedBuffers {
			t.Fatalf("seed %d: %s (%s), want pinned buffers", seed, r, r.Reason)
		}
		// Two low readings are a fall back: judged once it persists or
		// falls back further.
		s[len(s)-2].LiveBytes = last.LiveBytes
		if r := Analyze(s, AnalyzeOptions{Window: -1}); r.Growth.Growing() {
			t.Fatalf("seed %d, fell back in the two newest samples: %s (%s)", seed, r, r.Reason)
		}
	}
}

// The shape of the labels series: values kept per key, and every five
// seconds a buffer three times as big as them live at one collection.
func TestAnalyze_PerKeyUnderBigShortLivedBuffers(t *testing.T) {
	for seed := range uint64(10) {
		p := flatProc(seed)
		p.seconds = 47
		p.gcPeriod = 1
		kept := linear(36*mib, 2.2*mib)
		p.live = func(t float64) float64 {
			if int(math.Round(t))%5 == 0 {
				return 4 * kept(t) // the scrape's buffer, three times the map
			}
			return kept(t)
		}
		p.objs = linear(125e3, 8e3)
		p.garbage, p.garbageObj = 2*mib, 2000
		p.retained = func(t float64) float64 { return 2 * 4 * kept(t) }
		p.rss = func(t float64) float64 { return 2*4*kept(t) + 10*mib }
		r := Analyze(p.samples(), AnalyzeOptions{Window: -1})
		if r.Growth != PerKey {
			t.Fatalf("seed %d: %s (%s), want values kept per key", seed, r, r.Reason)
		}
		if !strings.Contains(r.String(), "; retained memory rises too") {
			t.Errorf("seed %d: %q does not name the retained rise", seed, r)
		}
	}
}
