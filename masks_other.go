//go:build !amd64 || purego

package ingest

// quoteMasks has no vector version here: the parser scans instead.
func quoteMasks(s []byte, m *lineMasks) bool { return false }
