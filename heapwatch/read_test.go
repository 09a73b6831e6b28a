package heapwatch

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	sink       []byte
	sinkSample Sample
)

func TestRead(t *testing.T) {
	debug.FreeOSMemory() // so that memory earlier tests freed is not resident
	s := Read()
	assert.False(t, s.Time.IsZero())
	assert.NotZero(t, s.LiveBytes)
	assert.NotZero(t, s.Objects)
	assert.NotZero(t, s.HeapObjects)
	assert.GreaterOrEqual(t, s.GCCycles, uint64(1))
	assert.GreaterOrEqual(t, s.Goroutines, uint64(2))
	assert.Greater(t, s.Total, s.HeapObjects)
	assert.Greater(t, s.Retained(), s.LiveBytes/2)
	assert.Greater(t, s.BytesPerObject(), 8.0)
	assert.Less(t, s.BytesPerObject(), 64e3)
	assert.Equal(t, runtime.GOOS == "linux", s.RSSKnown)

	// Thirty-two MiB kept show in live heap and retained memory.
	sink = make([]byte, 32<<20)
	for i := 0; i < len(sink); i += 4096 {
		sink[i] = 1
	}
	runtime.GC()
	after := Read()
	assert.Greater(t, after.LiveBytes, s.LiveBytes+30<<20)
	assert.Greater(t, after.Retained(), s.Retained()+24<<20) // the scavenger may return some
	assert.Greater(t, after.GCCycles, s.GCCycles)
	if after.RSSKnown {
		assert.Greater(t, after.RSS, uint64(1<<20))
	}
	sink = nil
}

func TestParseStatm(t *testing.T) {
	f := func(in string, want uint64, ok bool) {
		t.Helper()
		got, gotOK := parseStatm([]byte(in))
		require.Equal(t, ok, gotOK, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	f("1234 567 89 1 0 300 0\n", 567, true)
	f("1 2", 2, true)
	f("1 0 0 0 0 0 0\n", 0, true)
	f("", 0, false)
	f("1234", 0, false)
	f("1234 ", 0, false)
	f("1234 x 1", 0, false)
	f("1234 12x 1", 0, false)
	f(" 12 3", 0, false)
	f("1 99999999999999999999999 1", 0, false)
}
