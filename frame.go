package ingest

import "bytes"

// Framing of syslog over TCP and TLS (RFC 6587), detected per frame from
// its first byte:
//
//   - octet counting: "123 <190>..." — a decimal length of at most 9
//     digits, a space, and that many bytes of message;
//   - LF framing: anything else ("<190>...", a bare access line) runs to
//     the next "\n". Empty lines between frames are skipped.
//
// A run of digits not followed by a space ("203.0.113.7 - - [...") is not a
// length: the frame is an LF-framed line. The frame's bytes are handed on
// as they are; the line framing that follows (lineHandler.datagram) splits
// an octet-counted message at any "\n" it holds and drops a trailing "\r".

// maxOctetDigits bounds an octet count: 9 digits (up to 999,999,999) fit an
// int on every platform; a longer run of digits is not taken for a count.
const maxOctetDigits = 9

// frameSlack is what a connection's buffer holds beyond MaxFrame: the
// longest octet-count header (9 digits and a space) and an LF.
const frameSlack = 16

// frameEvent is what framer.next found.
type frameEvent uint8

const (
	// frameMore: no whole frame in the bytes given; it consumed n bytes
	// (of a frame being skipped), and when n is 0 it needs more input.
	frameMore frameEvent = iota
	// frameWhole: a whole frame, returned.
	frameWhole
	// frameTooLong: a frame longer than the maximum; its bytes are skipped
	// as they arrive, never buffered.
	frameTooLong
	// frameBadCount: an octet count of 0, which no frame can have.
	frameBadCount
)

// framer splits a byte stream into frames. It holds the state that spans
// reads: what is left of a frame being skipped, and how far the current
// LF-framed frame has been searched. The zero value with max set is ready.
type framer struct {
	max      int  // the longest frame, MaxFrame
	skip     int  // bytes of an over-long octet-counted frame still to skip
	skipLine bool // skipping an over-long LF-framed frame to its "\n"
	searched int  // bytes of the LF-framed frame at b[0] known to hold no "\n"
}

// next looks for the next frame at the start of b, the bytes not consumed
// yet, and returns what it found and how many bytes of b it consumed. A
// frame returned is a view into b, valid until b is modified.
//
// Every event but frameMore with n == 0 consumes bytes; frameMore with
// n == 0 means b holds a frame's start only, and the caller must keep
// b[0:] and call again with more bytes after it. The frame waiting is never
// longer than max+frameSlack bytes: beyond that next reports frameTooLong.
func (f *framer) next(b []byte) (ev frameEvent, frame []byte, n int) {
	if f.skip > 0 {
		n = min(f.skip, len(b))
		f.skip -= n
		return frameMore, nil, n
	}
	if f.skipLine {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			f.skipLine = false
			return frameMore, nil, i + 1
		}
		return frameMore, nil, len(b)
	}
	if len(b) == 0 {
		return frameMore, nil, 0
	}
	if b[0]-'0' <= 9 {
		count, k := 0, 0
		for ; k < len(b) && k < maxOctetDigits && b[k]-'0' <= 9; k++ {
			count = count*10 + int(b[k]-'0')
		}
		switch {
		case k == len(b):
			return frameMore, nil, 0 // the count may go on
		case b[k] != ' ':
			// Not a count: an LF-framed line that starts with digits.
		case count == 0:
			return frameBadCount, nil, k + 1
		case count > f.max:
			f.skip = count
			return frameTooLong, nil, k + 1
		case len(b) < k+1+count:
			return frameMore, nil, 0
		default:
			return frameWhole, b[k+1 : k+1+count : k+1+count], k + 1 + count
		}
	}
	// LF framing. Search only what was not searched before, and at most
	// max+1 bytes: a frame of max bytes and its "\n".
	end := min(len(b), f.max+1)
	if i := bytes.IndexByte(b[f.searched:end], '\n'); i >= 0 {
		i += f.searched
		f.searched = 0
		if i == 0 || i == 1 && b[0] == '\r' {
			return frameMore, nil, i + 1 // an empty line: no frame
		}
		return frameWhole, b[:i:i], i + 1
	}
	if len(b) > f.max {
		f.searched = 0
		f.skipLine = true
		return frameTooLong, nil, end
	}
	f.searched = len(b)
	return frameMore, nil, 0
}

// cut reports whether rest, the bytes left when a stream ends, holds the
// start of a frame: bytes other than line ends that were not part of a
// frame already counted as too long.
func (f *framer) cut(rest []byte) bool {
	return len(bytes.Trim(rest, "\r\n")) > 0
}

// reset forgets the frame in progress, for a new stream.
func (f *framer) reset() { *f = framer{max: f.max} }
