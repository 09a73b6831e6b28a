package heapwatch

import (
	"runtime"
	"runtime/debug"
	"testing"
)

var (
	sink       []byte
	sinkSample Sample
)

func TestRead(t *testing.T) {
	debug.FreeOSMemory() // so that memory earlier tests freed is not resident
	s := Read()
	switch {
	case s.Time.IsZero(), s.LiveBytes == 0, s.Objects == 0, s.HeapObjects == 0:
		t.Fatalf("figures missing: %+v", s)
	case s.GCCycles < 1, s.Goroutines < 2:
		t.Fatalf("GC cycles or goroutines: %+v", s)
	case s.Total <= s.HeapObjects, s.Retained() <= s.LiveBytes/2:
		t.Fatalf("total and retained memory: %+v", s)
	case s.BytesPerObject() <= 8 || s.BytesPerObject() >= 64e3:
		t.Fatalf("bytes per object %v", s.BytesPerObject())
	case s.RSSKnown != (runtime.GOOS == "linux"):
		t.Fatalf("RSS known %v on %s", s.RSSKnown, runtime.GOOS)
	}

	// Thirty-two MiB kept show in live heap and retained memory.
	sink = make([]byte, 32<<20)
	for i := 0; i < len(sink); i += 4096 {
		sink[i] = 1
	}
	runtime.GC()
	after := Read()
	if after.LiveBytes <= s.LiveBytes+30<<20 {
		t.Errorf("live heap %d after keeping 32 MiB, was %d", after.LiveBytes, s.LiveBytes)
	}
	if after.Retained() <= s.Retained()+24<<20 { // the scavenger may return some
		t.Errorf("retained %d after keeping 32 MiB, was %d", after.Retained(), s.Retained())
	}
	if after.GCCycles <= s.GCCycles {
		t.Errorf("GC cycles %d after a GC, was %d", after.GCCycles, s.GCCycles)
	}
	if after.RSSKnown && after.RSS <= 1<<20 {
		t.Errorf("RSS %d", after.RSS)
	}
	sink = nil
}

func TestParseStatm(t *testing.T) {
	f := func(in string, want uint64, ok bool) {
		t.Helper()
		got, gotOK := parseStatm([]byte(in))
		if got != want || gotOK != ok {
			t.Errorf("parseStatm(%q) = %d, %v; want %d, %v", in, got, gotOK, want, ok)
		}
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
