package pathtable

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/sizeclass"
)

func mustNew(t *testing.T, maxPaths int) *Table {
	t.Helper()
	tab, err := New(maxPaths)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// feed counts one request for each path in turn.
func feed(tab *Table, paths ...string) {
	for _, p := range paths {
		tab.ServeLine(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: 10})
	}
}

// counts returns the table's rows and Other as a map, and their total.
func counts(tab *Table) (map[string]int64, int64) {
	m := make(map[string]int64)
	rows, other := tab.Top(nil, tab.MaxPaths())
	var total int64
	for _, row := range rows {
		m[row.Key] = row.Value.Requests
		total += row.Value.Requests
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

// While there is room, a path is kept from its first request.
func TestPathTableKeepsFromFirstSighting(t *testing.T) {
	tab := mustNew(t, 10)
	feed(tab, "/a", "/a", "/a", "/b")
	checkCounts(t, tab, map[string]int64{"/a": 3, "/b": 1}, 4)
	if n := tab.Len(); n != 2 {
		t.Errorf("Len() = %d, want 2", n)
	}
}

// A full table gives a path seen again an entry by evicting a colder one
// into Other; a path seen once does not get one; totals stay.
func TestPathTableEviction(t *testing.T) {
	tab := mustNew(t, 2)
	feed(tab, "/x", "/y") // two entries of 1 request each
	feed(tab, "/z")       // a first sighting: Other
	checkCounts(t, tab, map[string]int64{"/x": 1, "/y": 1, Other: 1}, 3)
	feed(tab, "/z", "/z") // the second /z takes the place of /x or /y
	m, total := counts(tab)
	if total != 5 || m["/z"] != 2 || tab.Len() != 2 || m[Other] != 2 {
		t.Errorf("counts %v, total %d, Len() %d; want /z 2, Other 2 (its first and the evicted entry's), 5, 2", m, total, tab.Len())
	}

	tab = mustNew(t, 2)
	feed(tab, "/x", "/x", "/x", "/y", "/y", "/y") // two entries of 3 requests each
	feed(tab, "/z", "/z")                         // /z's estimate, 2, does not beat 3
	checkCounts(t, tab, map[string]int64{"/x": 3, "/y": 3, Other: 2}, 8)
}

// Sums of sizes saturate at math.MaxInt64 instead of wrapping, in an entry
// and in Other, also when entries are merged.
func TestPathTableSaturates(t *testing.T) {
	tab := mustNew(t, 1)
	for _, p := range []string{"/a", "/a", "/a", "/b", "/b", "/b"} {
		tab.ServeLine(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: math.MaxInt64})
	}
	rows, other := tab.Top(nil, 10)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	if r := rows[0]; r.Key != "/a" || r.Value.Requests != 3 || r.Value.Bytes != math.MaxInt64 {
		t.Errorf("row %q: %d requests, %d bytes; want /a, 3, MaxInt64", r.Key, r.Value.Requests, r.Value.Bytes)
	}
	if other.Requests != 3 || other.Bytes != math.MaxInt64 {
		t.Errorf("%s: %d requests, %d bytes; want 3, MaxInt64", Other, other.Requests, other.Bytes)
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

// Top reuses the rows it is given and sorts by requests, then path.
func TestPathTableTop(t *testing.T) {
	tab := mustNew(t, 10)
	feed(tab, "/b", "/b", "/b", "/a", "/a", "/a", "/c", "/c", "/c", "/c", "/d")
	rows := make([]Row, 0, 10)
	got, other := tab.Top(rows, 3)
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	if &rows[:1][0] != &got[0] {
		t.Error("the rows' array is not reused")
	}
	if paths := []string{got[0].Key, got[1].Key, got[2].Key}; !slices.Equal(paths, []string{"/c", "/a", "/b"}) {
		t.Errorf("order %q, want /c /a /b", paths)
	}
	if other.Requests != 0 {
		t.Errorf("%s counted %d, want 0", Other, other.Requests)
	}
}

// Long paths are kept whole, up to keyed's default MaxKeyLen; longer ones
// count in Other.
func TestPathTableLongPaths(t *testing.T) {
	tab := mustNew(t, 10)
	long := "/" + strings.Repeat("x", 2047)
	tooLong := "/" + strings.Repeat("y", 5000)
	feed(tab, long, long, tooLong)
	checkCounts(t, tab, map[string]int64{long: 2, Other: 1}, 3)
	if u := tab.Usage(); u.Entries != 1 || u.Bytes <= 2048 || u.Bytes > u.LimitBytes {
		t.Errorf("Usage() = %+v, want 1 entry of more than 2048 bytes, under the limit", u)
	}
}

func TestPathTableBadSize(t *testing.T) {
	if _, err := New(-1); err == nil {
		t.Error("New(-1) did not fail")
	}
}

// The figures a /metrics scrape reads, Stats' Entries and Bytes, are kept
// as paths come and go, not summed over the paths by the scrape: they
// agree with a walk of the kept paths after every round of admissions and
// evictions. Each entry is charged its path's size class and one entry's
// fixed size.
func TestPathTableStatsFollowPaths(t *testing.T) {
	const maxPaths = 500
	tab := mustNew(t, maxPaths)
	feed(tab, "/first")
	st := tab.Stats()
	perEntry := st.Bytes - int64(sizeclass.Of(len("/first")))
	if st.Entries != 1 || perEntry <= 0 {
		t.Fatalf("one path: Stats %+v", st)
	}
	var rows []Row
	evicted := uint64(0)
	for round := range 20 {
		// Paths of lengths 2 to about 1,000 bytes, each seen twice so
		// that a full table evicts colder ones for them.
		for i := range 400 {
			p := fmt.Sprintf("/r%d/%d/%s", round, i, strings.Repeat("x", (i*37+round*101)%1000))
			feed(tab, p, p)
		}
		st := tab.Stats()
		rows, _ = tab.Top(rows, maxPaths)
		walked := int64(0)
		for _, row := range rows {
			walked += int64(sizeclass.Of(len(row.Key))) + perEntry
		}
		if st.Entries != len(rows) || st.Bytes != walked {
			t.Fatalf("round %d: Stats has %d entries of %d bytes; the walk %d of %d", round, st.Entries, st.Bytes, len(rows), walked)
		}
		if u := tab.Usage(); u.Bytes != st.FixedBytes+st.Bytes || u.Entries != int64(st.Entries) {
			t.Fatalf("round %d: Usage %+v, Stats %+v", round, u, st)
		}
		evicted = st.Evicted
	}
	if evicted == 0 {
		t.Errorf("no path was evicted: the test did not churn the table")
	}
}
