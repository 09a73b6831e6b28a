package routemetrics

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// blockingWriter holds its first Write until release is closed.
type blockingWriter struct {
	entered, release chan struct{}
	b                bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.entered != nil {
		close(w.entered)
		w.entered = nil
		<-w.release
	}
	return w.b.Write(p)
}

// TestWritePrometheusBuffer: a scrape with buffers of its own writes what
// WritePrometheus writes, and is not held up by another scrape whose
// writer blocks.
func TestWritePrometheusBuffer(t *testing.T) {
	s := mustNew(t, Config{})
	for i := range 2000 {
		o := obs("h", "/r"+strconv.Itoa(i%500), "GET", 200+i%3)
		o.Duration, o.HasDuration = time.Duration(i)*time.Millisecond, true
		s.Observe(o)
	}
	var want bytes.Buffer
	if err := s.WritePrometheus(&want); err != nil {
		t.Fatal(err)
	}
	if want.Len() < 2*bufSize {
		t.Fatalf("the exposition is %d bytes: too small to need several writes", want.Len())
	}

	slow := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	entered := slow.entered
	var slowBuf ScrapeBuffer
	done := make(chan error, 1)
	go func() { done <- s.WritePrometheusBuffer(slow, &slowBuf) }()
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the first scrape did not write")
	}
	// The first scrape is held in its first Write: these run meanwhile.
	for range 2 {
		var buf ScrapeBuffer
		var got bytes.Buffer
		if err := s.WritePrometheusBuffer(&got, &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("WritePrometheusBuffer wrote %d bytes, WritePrometheus %d: not the same", got.Len(), want.Len())
		}
		if len(buf.snap) != 0 || cap(buf.buf) != bufSize {
			t.Errorf("after a scrape: %d series referenced, a buffer of %d bytes; want none and %d", len(buf.snap), cap(buf.buf), bufSize)
		}
	}
	var again bytes.Buffer
	if err := s.WritePrometheus(&again); err != nil || !bytes.Equal(again.Bytes(), want.Bytes()) {
		t.Errorf("WritePrometheus while a scrape with other buffers is held: %v, %d bytes of %d", err, again.Len(), want.Len())
	}
	close(slow.release)
	select {
	case err := <-done:
		if err != nil || !bytes.Equal(slow.b.Bytes(), want.Bytes()) {
			t.Errorf("the held scrape: %v, %d bytes of %d", err, slow.b.Len(), want.Len())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the held scrape did not finish")
	}
}
