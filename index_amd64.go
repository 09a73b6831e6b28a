package ingest

import "golang.org/x/sys/cpu"

// indexEither returns the index of the first byte of b that is c1 or c2, or
// -1. It finds a request's query and its closing quote in one pass over a
// long path, where two bytes.IndexByte passes would read the path twice.
func indexEither(b []byte, c1, c2 byte) int {
	if hasAVX2 {
		return indexEitherAVX2(b, c1, c2)
	}
	return indexEitherGeneric(b, c1, c2)
}

var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func indexEitherAVX2(b []byte, c1, c2 byte) int
