// Command before is the ingest layer of examples/migrate before its
// migration, kept to show what the library replaces: do not copy it. It
// reads each datagram into a buffer, makes a string of it, splits the
// string into a struct of strings, and counts per path in a map keyed by
// those strings. Each new path keeps its whole line alive as a map key,
// and the map never shrinks: with 2 KiB paths, half of them new, its heap
// grows for as long as it runs. It logs the same heap monitor's summary
// as examples/migrate, which says so within a minute.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flatheap/ingest/heapwatch"
)

// entry is a parsed line, every field a string.
type entry struct {
	Host, Time, Method, Path, Protocol, Referer, UserAgent string
	Status, Bytes                                          int
}

// parse splits an nginx combined line, after its syslog header if any.
func parse(line string) (entry, bool) {
	var e entry
	if i := strings.Index(line, ": "); strings.HasPrefix(line, "<") && i > 0 {
		line = line[i+2:]
	}
	quoted := strings.Split(line, `"`)
	if len(quoted) < 7 {
		return e, false
	}
	head := strings.Fields(quoted[0])
	request := strings.Fields(quoted[1])
	tail := strings.Fields(quoted[2])
	if len(head) < 4 || len(request) != 3 || len(tail) != 2 {
		return e, false
	}
	e.Host, e.Time = head[0], strings.Trim(strings.Join(head[3:], " "), "[]")
	e.Method, e.Path, e.Protocol = request[0], request[1], request[2]
	e.Status, _ = strconv.Atoi(tail[0])
	e.Bytes, _ = strconv.Atoi(tail[1])
	e.Referer, e.UserAgent = quoted[3], quoted[5]
	return e, true
}

type pathStats struct{ Requests, Bytes, ServerErrors int }

func main() {
	listen := flag.String("listen", "127.0.0.1:5515", "UDP `address` to receive access lines on")
	every := flag.Duration("heap-every", 10*time.Second, "how often to log the heap monitor's summary")
	samplesTo := flag.String("samples", "", "on exit, write the heap monitor's samples to `file`, a JSON line each")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(2)
	}
	log.Info("listening", "udp", conn.LocalAddr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() { conn.Close() })

	monitor := heapwatch.New(heapwatch.Config{ForceGC: -1})
	go monitor.Run(ctx)
	go func() {
		for t := time.NewTicker(*every); ctx.Err() == nil; <-t.C {
			r := monitor.Report()
			log.Info("heap "+monitor.Summary(), "growth", r.Growth.String(), "growing", r.Growth.Growing())
		}
	}()

	stats := make(map[string]*pathStats)
	buf := make([]byte, 65536)
	lines := 0
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break // closed at the signal
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			e, ok := parse(line)
			if !ok {
				continue
			}
			s := stats[e.Path]
			if s == nil {
				s = new(pathStats)
				stats[e.Path] = s
			}
			s.Requests++
			s.Bytes += e.Bytes
			if e.Status >= 500 {
				s.ServerErrors++
			}
			lines++
		}
	}
	fmt.Printf("lines %d, paths %d\n", lines, len(stats))
	if *samplesTo != "" {
		f, err := os.Create(*samplesTo)
		if err == nil {
			enc := json.NewEncoder(f)
			for _, s := range monitor.Samples() {
				err = errors.Join(err, enc.Encode(s))
			}
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "before:", err)
			os.Exit(1)
		}
	}
}
