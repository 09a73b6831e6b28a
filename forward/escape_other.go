//go:build !amd64 || purego

package forward

// buildVector is build with a vector unit: none here.
func (m *lineMask) buildVector(s []byte) bool { return false }
