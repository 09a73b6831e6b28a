package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/flatheap/ingest"
	filetail "github.com/flatheap/ingest/tail"
)

var parseUsage = `Usage: ingest parse [--format combined|common | --log-format BODY | --apache-format FORMAT] [--follow] [FILE...]

Parse access-log lines from each FILE in turn, or from stdin when no FILE is
given or FILE is "-", and write one JSON object per input line to stdout, in
input order. A syslog header (RFC 3164 or RFC 5424) is detected per line.

--format names a built-in format. --log-format takes an nginx log_format
body as it appears in nginx.conf (the "log_format NAME" prefix, escape= and
the quotes are optional), --apache-format an Apache LogFormat string; at
most one of the three may be given. With a compiled format, the variables
that have no key of their own are added to each object under their nginx
names ("upstream_response_time", "http_x_forwarded_for", ...; Apache's
%{X-Forwarded-For}i is "http_x_forwarded_for"), as are "host",
"bytes_sent" and "request_time" (in seconds) when the format logs them.

A line that parses gives the object written by ingest.Request.AppendJSON. A
line that does not, an empty line included, gives

	{"line":N,"error":"ingest: ..."}

where N is the 1-based number of the line counted across all inputs, which
is also its line number in the output. A line longer than ` + maxLineText + ` bytes is
skipped without being held in memory and reported as "` + tooLongText + `".
A last line without a newline counts as a line.

With --follow, each FILE (a name or a glob pattern) is read from its start
and then followed as it grows, through rotation (rename or copytruncate),
like tail -F, until SIGINT or SIGTERM; the output is flushed whenever every
file has been read to its end. A line then counts once it ends with a
newline, or once its file was rotated away.

Exit status: 0 when every line parsed, 1 when some did not, 2 for a usage
error or when a file cannot be read or stdout written (a closed stdout or
a pipe whose reader went away included); the lines before the failure are
written first.

Flags:
`

var (
	maxLineText = strconv.Itoa(ingest.MaxLineLength)
	tooLongText = ingest.ErrTooLong.Error()
)

func runParse(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("parse", parseUsage, stderr)
	formatFlags := addFormatFlags(fs)
	follow := fs.Bool("follow", false, "follow each FILE through rotation until interrupted, like tail -F")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	format, err := formatFlags.format()
	if err != nil {
		fmt.Fprintf(stderr, "ingest parse: %v\n", err)
		return 2
	}
	if f, ok := stdout.(*os.File); ok {
		// A write to a closed pipe returns EPIPE, reported below, instead
		// of killing the process with SIGPIPE.
		signal.Ignore(syscall.SIGPIPE)
		if stdoutClosed(f) {
			fmt.Fprintln(stderr, "ingest parse: stdout is closed")
			return 2
		}
	}
	files := fs.Args()
	if *follow {
		return followParse(files, format, stdout, stderr)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}

	lp := &lineParser{
		parser: ingest.Parser{Format: format},
		// Room for the longest line Parse accepts plus "\r\n": a line that
		// does not fit is too long whatever Parse would say.
		in:  bufio.NewReaderSize(nil, ingest.MaxLineLength+2),
		out: bufio.NewWriterSize(stdout, 64<<10),
	}
	for _, name := range files {
		if err = lp.file(name, stdin); err != nil {
			break
		}
	}
	return lp.finish(err, stderr)
}

// lineParser holds the state of one "ingest parse" run, reused across its
// inputs and lines.
type lineParser struct {
	parser ingest.Parser
	req    ingest.Request
	in     *bufio.Reader
	out    *bufio.Writer
	buf    []byte // one output line, reused
	lines  int    // lines read so far, across all inputs
	failed int    // lines that did not parse
}

// file parses the file named name, or stdin for "-".
func (lp *lineParser) file(name string, stdin io.Reader) error {
	if name == "-" {
		return lp.parse(stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return lp.parse(f)
}

// parse writes one JSON line to lp.out for each line of rd. It returns the
// first read or write error; a line cut short by a read error is not
// written.
func (lp *lineParser) parse(rd io.Reader) error {
	lp.in.Reset(rd)
	for {
		line, err := lp.in.ReadSlice('\n')
		tooLong := false
		for err == bufio.ErrBufferFull {
			// Skip the rest of the line a buffer at a time.
			tooLong = true
			_, err = lp.in.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(line) == 0 && !tooLong {
			return nil // end of input after a newline, or empty input
		}
		lp.lines++
		perr := ingest.ErrTooLong
		if !tooLong {
			perr = lp.parser.Parse(&lp.req, line)
		}
		if perr == nil {
			lp.buf = lp.req.AppendJSON(lp.buf[:0])
		} else {
			lp.failed++
			lp.buf = appendLineError(lp.buf[:0], lp.lines, perr)
		}
		lp.buf = append(lp.buf, '\n')
		if _, werr := lp.out.Write(lp.buf); werr != nil {
			return werr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// followParse runs "ingest parse --follow": the objects are those of parse,
// written as a tail.Tailer hands the lines over.
func followParse(files []string, format *ingest.Format, stdout, stderr io.Writer) int {
	if len(files) == 0 || slices.Contains(files, "-") {
		fmt.Fprintln(stderr, "ingest parse: --follow needs FILE names")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lp := &lineParser{out: bufio.NewWriterSize(stdout, 64<<10)}
	var werr error
	write := func(r *ingest.Request, fail error) {
		if lp.lines++; fail == nil {
			lp.buf = append(r.AppendJSON(lp.buf[:0]), '\n')
		} else {
			lp.failed++
			lp.buf = append(appendLineError(lp.buf[:0], lp.lines, fail), '\n')
		}
		if _, err := lp.out.Write(lp.buf); err != nil && werr == nil {
			werr = err
			cancel()
		}
	}
	t, err := filetail.New(filetail.Config{
		Paths: files, Format: format, FromBeginning: true, BadLineInterval: -1,
		Handler:   ingest.HandlerFunc(func(r *ingest.Request) { write(r, nil) }),
		OnBadLine: func(_ []byte, _ string, err error) { write(nil, err) },
		OnWait: func() {
			if err := lp.out.Flush(); err != nil && werr == nil {
				werr = err
				cancel()
			}
		},
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err == nil {
		if err = t.Run(ctx); errors.Is(err, context.Canceled) {
			err = werr
		}
	}
	return lp.finish(err, stderr)
}

// stdoutClosed reports whether f, the process's stdout, was closed when
// the process started. The Go runtime then opens /dev/null in its place,
// for reading and writing, where a shell's ">/dev/null" opens it for
// writing only: f is /dev/null and can be read.
func stdoutClosed(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	null, err := os.Stat(os.DevNull)
	if err != nil || !os.SameFile(fi, null) {
		return false
	}
	var b [1]byte
	_, err = f.Read(b[:])
	return err == io.EOF
}

// appendLineError appends the JSON object reported for a line that failed.
func appendLineError(dst []byte, line int, err error) []byte {
	dst = append(dst, `{"line":`...)
	dst = strconv.AppendInt(dst, int64(line), 10)
	dst = append(dst, `,"error":`...)
	dst = ingest.AppendJSONString(dst, err.Error())
	return append(dst, '}')
}

// finish flushes the output and returns parse's exit status: 2 with the
// error on stderr when err, or the flush, failed; 1 when a line did not
// parse; else 0.
func (lp *lineParser) finish(err error, stderr io.Writer) int {
	if ferr := lp.out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "ingest parse: %v\n", err)
		return 2
	}
	if lp.failed > 0 {
		return 1
	}
	return 0
}
