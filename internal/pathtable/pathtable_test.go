package pathtable

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/flatheap/ingest"
)

// feed counts one request for each path in turn.
func feed(tab *Table, paths ...string) {
	for _, p := range paths {
		tab.ServeLine(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: 10})
	}
}

// counts returns the table's rows and Other as a map, and their total.
func counts(tab *Table) (map[string]int64, int64) {
	m := make(map[string]int64)
	rows, other := tab.Snapshot(nil)
	var total int64
	for _, row := range rows {
		m[row.Path] = row.Requests
		total += row.Requests
	}
	if other.Requests > 0 {
		m[Other] = other.Requests
		total += other.Requests
	}
	return m, total
}

// checkCounts fails t unless the table's counts per path are want, and sum
// to the number of requests fed.
func checkCounts(t *testing.T, tab *Table, want map[string]int64, fed int64) {
	t.Helper()
	m, total := counts(tab)
	if !maps.Equal(m, want) {
		t.Errorf("counts %v, want %v", m, want)
	}
	if total != fed {
		t.Errorf("total %d, want %d: every request counts once", total, fed)
	}
}

func TestPathTableKeepsFromSecondSighting(t *testing.T) {
	tab := New(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(tab, "/a", "/a", "/a", "/b")
	checkCounts(t, tab, map[string]int64{"/a": 2, Other: 2}, 4)
	if n := tab.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
}

// A full table makes room for a new path by moving an entry that counted
// one request into Other, never one that counted more; totals stay.
func TestPathTableEviction(t *testing.T) {
	tab := New(ingest.NewInterner(ingest.InternerConfig{}), 2)
	feed(tab, "/x", "/x", "/y", "/y") // two entries of 1 request each
	if n := tab.Len(); n != 2 {
		t.Fatalf("Len() = %d, want 2", n)
	}
	feed(tab, "/z", "/z") // the second /z takes the place of /x or /y
	m, total := counts(tab)
	if total != 6 || m["/z"] != 1 || tab.Len() != 2 {
		t.Errorf("total %d, /z %d, Len() %d; want 6, 1, 2", total, m["/z"], tab.Len())
	}
	// /x and /y's first requests, /z's first, and the evicted entry's one.
	if m[Other] != 4 {
		t.Errorf("%s counted %d, want 4", Other, m[Other])
	}
	n, keyBytes := tab.Usage()
	if n != 2 || keyBytes != 0 {
		t.Errorf("Usage() = %d, %d; want 2, 0: the Interner still stores both keys, they are in its budget", n, keyBytes)
	}

	tab = New(ingest.NewInterner(ingest.InternerConfig{}), 2)
	feed(tab, "/x", "/x", "/x", "/y", "/y", "/y") // two entries of 2 requests each
	feed(tab, "/z", "/z")
	checkCounts(t, tab, map[string]int64{"/x": 2, "/y": 2, Other: 4}, 8)
}

// Sums of sizes saturate at math.MaxInt64 instead of wrapping, in an entry
// and in Other, also when entries are merged.
func TestPathTableSaturates(t *testing.T) {
	tab := New(ingest.NewInterner(ingest.InternerConfig{}), 1)
	for _, p := range []string{"/a", "/a", "/a", "/b", "/b", "/b"} {
		tab.ServeLine(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: math.MaxInt64})
	}
	rows, other := tab.Snapshot(nil)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	if r := rows[0]; r.Path != "/a" || r.Requests != 2 || r.Bytes != math.MaxInt64 {
		t.Errorf("row %q: %d requests, %d bytes; want /a, 2, MaxInt64", r.Path, r.Requests, r.Bytes)
	}
	if other.Requests != 4 || other.Bytes != math.MaxInt64 {
		t.Errorf("%s: %d requests, %d bytes; want 4, MaxInt64", Other, other.Requests, other.Bytes)
	}

	var s Stat
	s.Requests = math.MaxInt64 - 1
	s.Status[2] = math.MaxInt64
	s.merge(&Stat{Requests: 5, Bytes: 7, Status: [6]int64{2: 1}})
	if want := (Stat{Requests: math.MaxInt64, Bytes: 7, Status: [6]int64{2: math.MaxInt64}}); s != want {
		t.Errorf("merged %+v, want %+v", s, want)
	}

	for _, c := range []struct{ a, b, want int64 }{
		{5, -3, 5}, // a negative size adds nothing
		{math.MaxInt64, 1, math.MaxInt64},
		{1, 2, 3},
	} {
		if got := addSat(c.a, c.b); got != c.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// A snapshot reuses the rows it is given and sorts by requests, then path.
func TestPathTableSnapshot(t *testing.T) {
	tab := New(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(tab, "/b", "/b", "/b", "/a", "/a", "/a", "/c", "/c", "/c", "/c")
	rows := make([]Row, 0, 10)
	got, other := tab.Snapshot(rows)
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	if &rows[:1][0] != &got[0] {
		t.Error("the rows' array is not reused")
	}
	if paths := []string{got[0].Path, got[1].Path, got[2].Path}; !slices.Equal(paths, []string{"/c", "/a", "/b"}) {
		t.Errorf("order %q, want /c /a /b", paths)
	}
	if other.Requests != 3 {
		t.Errorf("%s counted %d, want 3", Other, other.Requests)
	}
}

// Usage counts the bytes of a key only when the table alone holds it: the
// Interner no longer stores the value, or stores another copy of it.
func TestPathTableUsageCountsKeysOnce(t *testing.T) {
	tab := New(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(tab, "/a", "/a", "/bb", "/bb")
	if n, keyBytes := tab.Usage(); n != 2 || keyBytes != 0 {
		t.Fatalf("Usage() = %d, %d; want 2, 0", n, keyBytes)
	}

	// As if the Interner had evicted "/bb" and stored it again since: the
	// table's key is then a string only the table holds.
	st := tab.stats["/bb"]
	delete(tab.stats, "/bb")
	tab.stats[strings.Clone("/bb")] = st
	// And a key the Interner does not store at all.
	tab.stats["/ccc"] = new(Stat)
	if n, keyBytes := tab.Usage(); n != 3 || keyBytes != int64(len("/bb")+len("/ccc")) {
		t.Errorf("Usage() = %d, %d; want 3, %d", n, keyBytes, len("/bb")+len("/ccc"))
	}
}
