package ingest

import "io"

// A connection's fixed read buffer, from a pool of buffers of one size, and
// the frames in it.

// getBuf returns a connection buffer of bufSize bytes. The pool holds only
// buffers of that size, so none is ever dropped for its size.
func (ss *streamServer) getBuf() *[]byte {
	if b, ok := ss.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, ss.bufSize)
	return &b
}

func (ss *streamServer) putBuf(b *[]byte) {
	if len(*b) != ss.bufSize {
		panic("ingest: connection buffer of the wrong size")
	}
	ss.bufs.Put(b)
}

// frameBuffer is a connection's fixed buffer, with the bytes read but not
// yet framed in buf[start:end], and its framer.
type frameBuffer struct {
	buf        []byte
	start, end int
	fr         framer
}

// fill moves the bytes not yet framed to the front of the buffer and reads
// once into the room after them. The framer never leaves more than
// MaxFrame+frameSlack-1 bytes unframed, so there is always room.
func (fb *frameBuffer) fill(r io.Reader) (int, error) {
	if fb.start > 0 {
		fb.end = copy(fb.buf, fb.buf[fb.start:fb.end])
		fb.start = 0
	}
	if fb.end == len(fb.buf) {
		panic("ingest: frame buffer full") // the framer's bound is broken
	}
	n, err := r.Read(fb.buf[fb.end:])
	fb.end += n
	return n, err
}

// next returns the next frame event in the buffer, frameMore when it needs
// more bytes. A frame is valid until the next fill.
func (fb *frameBuffer) next() (frameEvent, []byte) {
	for {
		ev, frame, n := fb.fr.next(fb.buf[fb.start:fb.end])
		fb.start += n
		if ev != frameMore || n == 0 {
			return ev, frame
		}
	}
}

// cut reports whether the bytes left hold the start of a frame.
func (fb *frameBuffer) cut() bool { return fb.fr.cut(fb.buf[fb.start:fb.end]) }
