//go:build !amd64 || purego

package ingest

// indexEither returns the index of the first byte of b that is c1 or c2, or -1.
func indexEither(b []byte, c1, c2 byte) int { return indexEitherGeneric(b, c1, c2) }
