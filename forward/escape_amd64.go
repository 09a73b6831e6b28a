//go:build !purego

package forward

import "golang.org/x/sys/cpu"

// hasAVX2 chooses lineMaskAVX2 (POPCNT comes with every AVX2 CPU; it is
// asked for all the same).
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// lineMaskAVX2 sets the bits of w for the bytes of s that need a look,
// and returns how many it set; 32 <= len(s) <= 64*maskWords. See
// escape_amd64.s.
//
//go:noescape
func lineMaskAVX2(s []byte, w *[maskWords]uint64) int

// buildVector is build with a vector unit; false when there is none or s
// is shorter than 32 bytes.
func (m *lineMask) buildVector(s []byte) bool {
	if !hasAVX2 || len(s) < 32 {
		return false
	}
	m.special = lineMaskAVX2(s, &m.w)
	return true
}
