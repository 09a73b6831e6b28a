package ingest

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// byteFields returns the names and values of every []byte field of r, found
// by reflection so that a field added to Request is covered without
// editing the tests.
func byteFields(r *Request) map[string][]byte {
	m := map[string][]byte{}
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Type() == reflect.TypeFor[[]byte]() {
			m[v.Type().Field(i).Name] = f.Bytes()
		}
	}
	return m
}

func TestRequestCloneNoAlias(t *testing.T) {
	buf := []byte(cloneLine)
	var p Parser
	var r Request
	if err := p.Parse(&r, buf); err != nil {
		t.Fatal(err)
	}
	var ref Request // parsed from a separate copy
	if err := p.Parse(&ref, []byte(cloneLine)); err != nil {
		t.Fatal(err)
	}
	o := r.Clone()
	defer o.Release()
	for i := range buf {
		buf[i] = '#'
	}
	got, want := byteFields(&o.Request), byteFields(&ref)
	for name, w := range want {
		g := got[name]
		if (g == nil) != (w == nil) || !bytes.Equal(g, w) {
			t.Errorf("%s = %q, want %q", name, g, w)
		}
		if len(g) == 0 {
			continue
		}
		if sliceAliases(g, buf) {
			t.Errorf("%s aliases the source line", name)
		}
		if !sliceAliases(g, o.buf.B) {
			t.Errorf("%s is not in the clone's buffer", name)
		}
		if cap(g) != len(g) {
			t.Errorf("%s: cap %d, len %d", name, cap(g), len(g))
		}
	}
	if o.Time != ref.Time || o.Status != ref.Status || o.BodyBytesSent != ref.BodyBytesSent ||
		o.Envelope != ref.Envelope || o.SyslogPriority != ref.SyslogPriority {
		t.Errorf("scalar fields differ: %+v", o.Request)
	}
	// Line holds every other view, so the buffer is the line, once.
	if len(o.buf.B) != len(cloneLine) {
		t.Errorf("buffer of %d bytes for a %d-byte line", len(o.buf.B), len(cloneLine))
	}
}

// TestRequestCloneAllFields sets every []byte field to memory outside Line,
// plus one empty non-nil field and one nil field, and checks the clone.
func TestRequestCloneAllFields(t *testing.T) {
	var r Request
	src := make([]byte, 0, 4096)
	v := reflect.ValueOf(&r).Elem()
	n := 0
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Type() != reflect.TypeFor[[]byte]() {
			continue
		}
		name := v.Type().Field(i).Name
		switch name {
		case "Query":
			f.SetBytes([]byte{}) // empty, not nil
		case "SyslogMsgID":
			// stays nil
		default:
			start := len(src)
			src = append(src, name+"-value"...)
			f.SetBytes(src[start:len(src):len(src)])
		}
		n++
	}
	if n != len(requestViews(&r)) {
		t.Fatalf("Request has %d []byte fields, requestViews covers %d", n, len(requestViews(&r)))
	}
	o := r.Clone()
	want := byteFields(&r)
	got := byteFields(&o.Request)
	for i := range src {
		src[i] = 0
	}
	need := 0
	for name, w := range want {
		g := got[name]
		need += len(w)
		if w == nil {
			if g != nil {
				t.Errorf("%s: nil became %q", name, g)
			}
			continue
		}
		if g == nil {
			t.Errorf("%s: empty became nil", name)
		}
		if sliceAliases(g, src) || cap(g) != len(g) {
			t.Errorf("%s aliases the source or is not capped", name)
		}
		if want := name + "-value"; len(w) > 0 && string(g) != want {
			t.Errorf("%s = %q, want %q", name, g, want)
		}
	}
	if len(o.buf.B) != need {
		t.Errorf("buffer of %d bytes, views total %d", len(o.buf.B), need)
	}
	o.Release()
	if o.buf != nil || o.Path != nil {
		t.Error("Release left references behind")
	}
	o.Release() // a second Release is a no-op
}

// TestRequestCloneBufferBound clones a small request after big ones were
// released: the clone does not keep a pooled buffer much larger than it.
func TestRequestCloneBufferBound(t *testing.T) {
	big := Request{Line: bytes.Repeat([]byte("B"), 64<<10)}
	for range 50 {
		big.Clone().Release()
	}
	small := Request{Line: []byte(cloneLine)}
	for range 50 {
		o := small.Clone()
		if c := cap(o.buf.B); c > 2*len(cloneLine)+cloneSlack {
			t.Fatalf("a %d-byte clone holds a %d-byte buffer", len(cloneLine), c)
		}
		if string(o.Line) != cloneLine {
			t.Fatal("wrong line")
		}
		defer o.Release()
	}
}

func TestRequestCloneConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p Parser
			var r Request
			line := []byte(strings.Replace(cloneLine, "/42", fmt.Sprintf("/%d", g), 1))
			want := fmt.Sprintf("/api/v1/users/%d", g)
			for range 2000 {
				if err := p.Parse(&r, line); err != nil {
					t.Error(err)
					return
				}
				o := r.Clone()
				if string(o.Path) != want {
					t.Errorf("Path = %q, want %q", o.Path, want)
					return
				}
				o.Release()
			}
		}()
	}
	wait := make(chan struct{})
	go func() { wg.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-time.After(30 * time.Second):
		t.Fatal("timed out")
	}
}
