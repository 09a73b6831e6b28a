package ingest

import "github.com/flatheap/ingest/internal/sizeclass"

// This file holds the Interner's admission and eviction: the count-min
// sketch of the values it missed, its aging, and the TinyLFU rule that
// decides whether a value takes a slot (see Interner).

// record counts a miss of the value with hash h in the sketch and returns
// the value's estimated misses, this one included. Only the smallest of the
// value's counters are raised (a conservative update), which keeps one-off
// values from inflating each other's estimates.
func (sh *internShard) record(h uint64) uint8 {
	var idx [internSketchRows]uint64
	low := uint8(internMaxFreq)
	for r := range idx {
		x := (h + uint64(r+1)*golden64) * mix1
		x ^= x >> 29
		idx[r] = x * mix2 >> sh.sketchShift
		low = min(low, sh.sketch[idx[r]])
	}
	if low < internMaxFreq {
		for _, i := range idx {
			if sh.sketch[i] == low {
				sh.sketch[i]++
			}
		}
		low++
	}
	sh.events++
	if sh.events >= sh.period {
		sh.age()
	}
	return low
}

// hitAgingEvery is how many agings of the sketch make one of the stored
// values' hit counters.
const hitAgingEvery = 4

// age halves every sketch counter, and every hitAgingEvery times every hit
// counter, so that what was hot long ago does not outweigh what is hot now.
func (sh *internShard) age() {
	sh.events = 0
	for i := range sh.sketch {
		sh.sketch[i] >>= 1
	}
	if sh.agings++; sh.agings%hitAgingEvery != 0 {
		return
	}
	for i := range sh.sets {
		s := &sh.sets[i]
		for j := range s.meta {
			for {
				m := s.meta[j].Load()
				if m == 0 || s.meta[j].CompareAndSwap(m, m&^metaFreq|(m&metaFreq)>>1) {
					break
				}
			}
		}
	}
}

// admit stores b in set si if its estimate est beats the set's weakest
// value and room can be made in the byte budget; it returns the stored
// string.
func (sh *internShard) admit(set *internSet, si int, key uint64, est uint8, b []byte) (string, bool) {
	width := sh.width
	if si < sh.wide {
		width++
	}
	slot, victim := -1, uint64(0)
	low := uint64(internMaxFreq + 1)
	for i := 0; i < width; i++ {
		m := set.meta[i].Load()
		if m == 0 {
			slot, victim = i, 0
			break
		}
		if f := m & metaFreq; f < low {
			slot, victim, low = i, m, f
		}
	}
	if victim != 0 && uint64(est) <= low {
		return "", false
	}
	over := sh.bytes + len(b) - sh.maxBytes
	if victim != 0 {
		over -= metaLen(victim)
	}
	sh.scratch = sh.scratch[:0]
	if over > 0 && !sh.findRoom(over, est, si*internSlots+slot) {
		return "", false
	}
	for _, g := range sh.scratch {
		sh.evict(&sh.sets[g/internSlots], int(g%internSlots))
	}
	if victim != 0 {
		sh.evict(set, slot)
	}
	p := newEntry(b)
	set.ptr[slot].Store(p)
	set.meta[slot].Store(key | uint64(est))
	sh.entries++
	sh.bytes += len(b)
	sh.heap += sizeclass.Of(entryHeader + len(b))
	return entryString(p), true
}

// findRoom sweeps the shard's slots from the hand, once around at most, and
// collects in scratch values hit less often than est until they free need
// bytes; it leaves out slot keep. It reports whether enough was found.
func (sh *internShard) findRoom(need int, est uint8, keep int) bool {
	n := len(sh.sets) * internSlots
	for k := 0; k < n && need > 0; k++ {
		g := sh.hand
		sh.hand++
		if sh.hand == n {
			sh.hand = 0
		}
		if g == keep {
			continue
		}
		m := sh.sets[g/internSlots].meta[g%internSlots].Load()
		if m != 0 && m&metaFreq < uint64(est) {
			sh.scratch = append(sh.scratch, int32(g))
			need -= metaLen(m)
		}
	}
	return need <= 0
}

// evict empties slot i of set s.
func (sh *internShard) evict(s *internSet, i int) {
	m := s.meta[i].Load()
	s.meta[i].Store(0)
	s.ptr[i].Store(nil)
	sh.entries--
	sh.bytes -= metaLen(m)
	sh.heap -= sizeclass.Of(entryHeader + metaLen(m))
	sh.evictions++
}
