package ingest

import "unsafe"

// This file holds the byte helpers every layer of the package shares, from
// the envelope down to the field decoders, the Interner and the JSON
// encoder. It depends on nothing else in the package.

// view returns b[i:j] with its capacity cut to its length, so that appending
// to a view can never write into the rest of the line.
func view(b []byte, i, j int) []byte { return b[i:j:j] }

// dashless returns nil for the "-" that servers log for an absent value.
func dashless(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// nilIfEmpty returns nil for an empty b, so that an empty value and an
// absent one look the same.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// b2s returns a string that shares b's bytes. It is valid only while b is
// reachable and unmodified: use it for lookups, never for a string that
// escapes.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// hexDigits are the lower-case hexadecimal digits, by value.
const hexDigits = "0123456789abcdef"
