//go:build amd64 && !purego

package ingest

// quoteMasks fills m for s (see lineMasks) and reports whether it could:
// without a vector unit, or for an s of fewer than 64 bytes without
// AVX-512, it does nothing and returns false. len(s) must be at most
// maskBytes.
func quoteMasks(s []byte, m *lineMasks) bool {
	if hasAVX512 {
		quoteMasksAVX512(s, m)
		return true
	}
	if hasAVX2 && len(s) >= 64 {
		quoteMasksAVX2(s, m)
		return true
	}
	return false
}

//go:noescape
func quoteMasksAVX512(s []byte, m *lineMasks)

//go:noescape
func quoteMasksAVX2(s []byte, m *lineMasks)
