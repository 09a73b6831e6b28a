//go:build !race

package decimal

import "testing"

var (
	sinkU64  uint64
	sinkI64  int64
	sinkInt  int
	sinkBool bool
)

func TestNoAllocs(t *testing.T) {
	b := []byte("1732569729.123")
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	f("Digits", func() { sinkU64, sinkInt = Digits(b, 0) })
	f("Int64", func() { sinkI64, sinkBool = Int64(b[:10]) })
	f("Seconds", func() { sinkI64, sinkI64, sinkBool = Seconds(b, 12) })
}
