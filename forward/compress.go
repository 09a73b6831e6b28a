package forward

import (
	"bytes"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/bytebufferpool"
)

// codecKind is a sink's compression.
type codecKind uint8

const (
	codecNone codecKind = iota
	codecGzip
	codecZstd
)

var codecNames = [...]string{codecNone: "none", codecGzip: "gzip", codecZstd: "zstd"}

func parseCodec(s string) (codecKind, bool) {
	for k, n := range codecNames {
		if n == s {
			return codecKind(k), true
		}
	}
	return codecNone, false
}

// wirePool recycles compressed bodies. Their sizes vary with the data, so
// a calibrating pool fits; a body goes back whole (never Reset before Put:
// the pool calibrates on len).
var wirePool bytebufferpool.Pool

// zstdEnc compresses for every sink: EncodeAll is safe for concurrent use
// and keeps one encoder state per concurrent caller, up to GOMAXPROCS.
var zstdEnc = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true))
	if err != nil {
		panic("forward: zstd: " + err.Error())
	}
	return e
})

var zstdDec = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic("forward: zstd: " + err.Error())
	}
	return d
})

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// byteSink is an io.Writer appending to a slice.
type byteSink struct{ b []byte }

func (s *byteSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// compress returns src compressed, in a buffer of its own exactly as
// long as the result, so that a queued batch holds (and is charged) no
// more than it needs; the work buffer goes back to wirePool.
func (k codecKind) compress(src []byte) []byte {
	buf := wirePool.Get()
	dst := buf.B[:0]
	switch k {
	case codecZstd:
		dst = zstdEnc().EncodeAll(src, dst)
	case codecGzip:
		w := gzipWriters.Get().(*gzip.Writer)
		bs := byteSink{dst}
		w.Reset(&bs)
		w.Write(src)
		w.Close()
		w.Reset(io.Discard)
		gzipWriters.Put(w)
		dst = bs.b
	}
	out := append([]byte(nil), dst...)
	buf.B = dst // no Reset before Put: the pool calibrates on len
	wirePool.Put(buf)
	return out
}

// free gives a buffer from compress back (to the garbage collector).
func (k codecKind) free(b []byte) {}

// decompress returns src decompressed, in a new buffer (retries of a
// partly refused batch only).
func (k codecKind) decompress(src []byte) ([]byte, error) {
	switch k {
	case codecZstd:
		return zstdDec().DecodeAll(src, nil)
	case codecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	return append([]byte(nil), src...), nil
}
