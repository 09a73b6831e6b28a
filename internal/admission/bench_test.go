package admission

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFilter measures a sighting: a first one (doorkeeper lookup and
// insertion), a later one (doorkeeper lookup and sketch update), and an
// estimate, in a filter of the default size.
func BenchmarkFilter(b *testing.B) {
	b.Run("record-first", func(b *testing.B) {
		f := mustNew(b, Config{})
		h := rand.Uint64()
		b.ReportAllocs()
		b.SetBytes(8)
		for b.Loop() {
			h += 0x9e3779b97f4a7c15
			if f.Record(h) != 1 {
				b.Fatal("a distinct key seen before")
			}
		}
	})
	b.Run("record-repeat", func(b *testing.B) {
		f, hs := recorded(b)
		b.ReportAllocs()
		b.SetBytes(8)
		i := 0
		for b.Loop() {
			if f.Record(hs[i&4095]) < 2 {
				b.Fatal("a repeated key taken for a first sighting")
			}
			i++
		}
	})
	b.Run("estimate", func(b *testing.B) {
		f, hs := recorded(b)
		b.ReportAllocs()
		b.SetBytes(8)
		i := 0
		for b.Loop() {
			if f.Estimate(hs[i&4095]) < 1 {
				b.Fatal("a recorded key has no estimate")
			}
			i++
		}
	})
}

// recorded returns a filter of the default size that has seen each of the
// 4,096 keys it also returns once.
func recorded(b *testing.B) (*Filter, []uint64) {
	f := mustNew(b, Config{})
	hs := make([]uint64, 4096)
	for i := range hs {
		hs[i] = rand.Uint64()
		f.Record(hs[i])
	}
	return f, hs
}
