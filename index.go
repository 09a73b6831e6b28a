package ingest

import "bytes"

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
