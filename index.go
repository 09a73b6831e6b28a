package ingest

import "bytes"

// The vector searches are written in assembly for amd64 (index_amd64.s,
// masks_amd64.s), chosen at start-up by what the CPU has. Built with the
// purego tag (go build -tags purego), or on another architecture, the
// package uses the portable Go code in this file and in masks.go instead.

// indexEitherGeneric is indexEither built on bytes.IndexByte: it reads the
// bytes before the first c1 twice, but each pass is vectorised.
func indexEitherGeneric(b []byte, c1, c2 byte) int {
	i := bytes.IndexByte(b, c1)
	if i < 0 {
		return bytes.IndexByte(b, c2)
	}
	if j := bytes.IndexByte(b[:i], c2); j >= 0 {
		return j
	}
	return i
}
