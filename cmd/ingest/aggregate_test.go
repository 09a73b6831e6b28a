package main

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flatheap/ingest"
)

// feed counts one request for each path in turn.
func feed(t *testing.T, tab *pathTable, paths ...string) {
	t.Helper()
	for _, p := range paths {
		tab.add(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: 10})
	}
}

// counts returns the table's rows and <other> as a map, and their total.
func counts(tab *pathTable) (map[string]int64, int64) {
	m := make(map[string]int64)
	rows, other := tab.snapshot(nil)
	var total int64
	for _, row := range rows {
		m[row.path] = row.Requests
		total += row.Requests
	}
	if other.Requests > 0 {
		m[otherPath] = other.Requests
		total += other.Requests
	}
	return m, total
}

func TestPathTableKeepsFromSecondSighting(t *testing.T) {
	tab := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(t, tab, "/a", "/a", "/a", "/b")
	m, total := counts(tab)
	assert.Equal(t, map[string]int64{"/a": 2, otherPath: 2}, m)
	assert.Equal(t, int64(4), total)
	assert.Equal(t, 1, tab.len())
}

// A full table makes room for a new path by moving an entry that counted
// one request into <other>, never one that counted more; totals stay.
func TestPathTableEviction(t *testing.T) {
	tab := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 2)
	feed(t, tab, "/x", "/x", "/y", "/y") // two entries of 1 request each
	require.Equal(t, 2, tab.len())
	feed(t, tab, "/z", "/z") // the second /z takes the place of /x or /y
	m, total := counts(tab)
	assert.Equal(t, int64(6), total)
	assert.Equal(t, int64(1), m["/z"])
	assert.Equal(t, 2, tab.len())
	assert.Equal(t, int64(4), m[otherPath], "/x and /y's first requests, /z's first, and the evicted entry's one")
	n, keyBytes := tab.usage()
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(0), keyBytes, "the Interner still stores both keys: they are in its budget")

	tab = newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 2)
	feed(t, tab, "/x", "/x", "/x", "/y", "/y", "/y") // two entries of 2 requests each
	feed(t, tab, "/z", "/z")
	m, total = counts(tab)
	assert.Equal(t, map[string]int64{"/x": 2, "/y": 2, otherPath: 4}, m)
	assert.Equal(t, int64(8), total)
}

// Sums of sizes saturate at math.MaxInt64 instead of wrapping, in an entry
// and in <other>, also when entries are merged.
func TestPathTableSaturates(t *testing.T) {
	tab := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 1)
	for _, p := range []string{"/a", "/a", "/a", "/b", "/b", "/b"} {
		tab.add(&ingest.Request{Path: []byte(p), Status: 200, BodyBytesSent: math.MaxInt64})
	}
	rows, other := tab.snapshot(nil)
	require.Len(t, rows, 1)
	assert.Equal(t, "/a", rows[0].path)
	assert.Equal(t, int64(2), rows[0].Requests)
	assert.Equal(t, int64(math.MaxInt64), rows[0].Bytes)
	assert.Equal(t, int64(4), other.Requests)
	assert.Equal(t, int64(math.MaxInt64), other.Bytes)

	var s pathStat
	s.Requests = math.MaxInt64 - 1
	s.Status[2] = math.MaxInt64
	s.merge(&pathStat{Requests: 5, Bytes: 7, Status: [6]int64{2: 1}})
	assert.Equal(t, pathStat{Requests: math.MaxInt64, Bytes: 7, Status: [6]int64{2: math.MaxInt64}}, s)

	assert.Equal(t, int64(5), addSat(5, -3), "a negative size adds nothing")
	assert.Equal(t, int64(math.MaxInt64), addSat(math.MaxInt64, 1))
	assert.Equal(t, int64(3), addSat(1, 2))
}

// A snapshot reuses the rows it is given and sorts by requests, then path.
func TestPathTableSnapshot(t *testing.T) {
	tab := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(t, tab, "/b", "/b", "/b", "/a", "/a", "/a", "/c", "/c", "/c", "/c")
	rows := make([]pathRow, 0, 10)
	got, other := tab.snapshot(rows)
	require.Len(t, got, 3)
	assert.Same(t, &rows[:1][0], &got[0], "the rows' array is reused")
	assert.Equal(t, []string{"/c", "/a", "/b"}, []string{got[0].path, got[1].path, got[2].path})
	assert.Equal(t, int64(3), other.Requests)
}

// usage counts the bytes of a key only when the table alone holds it: the
// Interner no longer stores the value, or stores another copy of it.
func TestPathTableUsageCountsKeysOnce(t *testing.T) {
	tab := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 10)
	feed(t, tab, "/a", "/a", "/bb", "/bb")
	n, keyBytes := tab.usage()
	require.Equal(t, 2, n)
	assert.Equal(t, int64(0), keyBytes)

	// As if the Interner had evicted "/bb" and stored it again since: the
	// table's key is then a string only the table holds.
	st := tab.stats["/bb"]
	delete(tab.stats, "/bb")
	tab.stats[strings.Clone("/bb")] = st
	// And a key the Interner does not store at all.
	tab.stats["/ccc"] = new(pathStat)
	n, keyBytes = tab.usage()
	assert.Equal(t, 3, n)
	assert.Equal(t, int64(len("/bb")+len("/ccc")), keyBytes)
}
