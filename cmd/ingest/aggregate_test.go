package main

import (
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

// counts returns top's rows as a map, and their total.
func counts(tab *pathTable) (map[string]int64, int64) {
	m := make(map[string]int64)
	var total int64
	for _, row := range tab.top(100) {
		m[row.Path] = row.Requests
		total += row.Requests
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

	tab = newPathTable(ingest.NewInterner(ingest.InternerConfig{}), 2)
	feed(t, tab, "/x", "/x", "/x", "/y", "/y", "/y") // two entries of 2 requests each
	feed(t, tab, "/z", "/z")
	m, total = counts(tab)
	assert.Equal(t, map[string]int64{"/x": 2, "/y": 2, otherPath: 4}, m)
	assert.Equal(t, int64(8), total)
}
