package ingest

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// chunkReader reads data in chunks whose sizes come from sizes, in turn
// (a size of 0 stands for 1); without sizes it fills each read.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = max(1, int(c.sizes[c.i%len(c.sizes)]))
		c.i++
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// frameEvents runs stream through a connection's frame buffer, read as r
// gives it, and lists what the framer found: "frame:<bytes>", "too-long",
// "bad-count", and "cut" when the stream ends in a frame.
func frameEvents(stream []byte, maxFrame int, sizes []byte) []string {
	fb := frameBuffer{buf: make([]byte, maxFrame+frameSlack), fr: framer{max: maxFrame}}
	r := &chunkReader{data: stream, sizes: sizes}
	var out []string
	for {
		_, err := fb.fill(r)
		for {
			ev, frame := fb.next()
			if ev == frameMore {
				break
			}
			out = append(out, eventString(ev, frame))
		}
		if err != nil {
			break
		}
	}
	if fb.cut() {
		out = append(out, "cut")
	}
	return out
}

func eventString(ev frameEvent, frame []byte) string {
	switch ev {
	case frameWhole:
		return "frame:" + string(frame)
	case frameTooLong:
		return "too-long"
	case frameBadCount:
		return "bad-count"
	}
	return "?"
}

// referenceFrames frames a whole stream held in memory, the slow way: the
// specification the framer must meet.
func referenceFrames(b []byte, maxFrame int) []string {
	var out []string
	for len(b) > 0 {
		k := 0
		for k < len(b) && k < maxOctetDigits && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k > 0 && k == len(b) {
			return append(out, "cut") // a count, or a line, not ended
		}
		if k > 0 && b[k] == ' ' {
			count, _ := strconv.Atoi(string(b[:k]))
			switch {
			case count == 0:
				out = append(out, "bad-count")
				b = b[k+1:]
			case count > maxFrame:
				out = append(out, "too-long")
				b = b[min(len(b), k+1+count):]
			case k+1+count > len(b):
				return append(out, "cut")
			default:
				out = append(out, "frame:"+string(b[k+1:k+1+count]))
				b = b[k+1+count:]
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(b) > maxFrame {
				return append(out, "too-long")
			}
			if len(bytes.Trim(b, "\r\n")) > 0 {
				out = append(out, "cut")
			}
			return out
		}
		switch l := b[:i]; {
		case len(l) > maxFrame:
			out = append(out, "too-long")
		case len(l) == 0 || string(l) == "\r":
		default:
			out = append(out, "frame:"+string(l))
		}
		b = b[i+1:]
	}
	return out
}

func TestFramer(t *testing.T) {
	f := func(stream string, maxFrame int, want ...string) {
		t.Helper()
		for _, sizes := range [][]byte{nil, {1}, {3, 1, 7}} {
			got := frameEvents([]byte(stream), maxFrame, sizes)
			if !slices.Equal(got, want) {
				t.Errorf("%q (max %d, reads %v): %q, want %q", stream, maxFrame, sizes, got, want)
			}
		}
		if ref := referenceFrames([]byte(stream), maxFrame); !slices.Equal(ref, want) {
			t.Errorf("%q: the reference gives %q, want %q", stream, ref, want)
		}
	}
	f("5 hello3 abc", 64, "frame:hello", "frame:abc")
	f("<1>a\n<2>b\r\n\n\r\n<3>c\n", 64, "frame:<1>a", "frame:<2>b\r", "frame:<3>c")
	f("5 a\nb\nc", 64, "frame:a\nb\nc")                                 // the count rules, not the LFs
	f("203.0.113.7 - - x\n12 ab", 64, "frame:203.0.113.7 - - x", "cut") // digits without a space: a line
	f("0 5 hello", 64, "bad-count", "frame:hello")
	f("1234567890 x\n", 64, "frame:1234567890 x") // ten digits: no count
	f("100 "+strings.Repeat("x", 100)+"2 ok", 64, "too-long", "frame:ok")
	f(strings.Repeat("y", 100)+"\n<1>ok\n", 64, "too-long", "frame:<1>ok")
	f(strings.Repeat("y", 64)+"\n", 64, "frame:"+strings.Repeat("y", 64))
	f(strings.Repeat("y", 65)+"\n", 64, "too-long")
	f(strings.Repeat("z", 1000), 64, "too-long") // no end: skipped, not cut again
	f("100 abc", 64, "too-long")
	f("10 abc", 64, "cut")
	f("<1>abc", 64, "cut")
	f("12", 64, "cut")
	f("\r\n\n", 64)
}

// FuzzFramer: a stream split into reads at arbitrary points gives the same
// frames as the stream read whole, and as the reference framer.
func FuzzFramer(f *testing.F) {
	for _, s := range []string{
		"5 hello3 abc",
		"<1>a\n<2>b\r\n\n\r\n<3>c\n",
		"203.0.113.7 - - x\n12 ab",
		"0 5 hello",
		"100 " + strings.Repeat("x", 100) + "2 ok",
		strings.Repeat("y", 100) + "\n<1>ok\n",
		"123456789 x\n1234567890 y\n",
		octet("<190>Nov  5 21:22:09 web01 nginx: "+line("/a")) + "<190>Nov  5 21:22:09 web01 nginx: " + line("/b") + "\n",
	} {
		f.Add([]byte(s), []byte{1, 2, 3}, uint8(0))
		f.Add([]byte(s), []byte{}, uint8(40))
	}
	f.Fuzz(func(t *testing.T, stream, sizes []byte, m uint8) {
		maxFrame := 1 + int(m)%96
		whole := frameEvents(stream, maxFrame, nil)
		split := frameEvents(stream, maxFrame, sizes)
		if !slices.Equal(whole, split) {
			t.Fatalf("max %d: read whole %q, split %v %q", maxFrame, whole, sizes, split)
		}
		if ref := referenceFrames(stream, maxFrame); !slices.Equal(whole, ref) {
			t.Fatalf("max %d: framer %q, reference %q", maxFrame, whole, ref)
		}
	})
}
