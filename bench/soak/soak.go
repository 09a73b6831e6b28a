package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
)

// soakRow is one sample of one receiver.
type soakRow struct {
	elapsed     time.Duration // since the load started
	sample      heapwatch.Sample
	printHeap   printHeap
	lines, keys int64
}

// soakRun is one receiver's child process and what it reported.
type soakRun struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	addr    string
	rows    []soakRow
	stopped string // why the parent stopped it early, if it did
	// scanner is the ingest receiver's last report in the scanner
	// scenario.
	scanner *scannerReport
}

// taggedReport is a child's report with the index of its run.
type taggedReport struct {
	run int
	rep childReport
}

// soaker runs one soak: the children, the sender, and the bookkeeping.
type soaker struct {
	scenario                   soakScenario
	duration, warmup, interval time.Duration
	maxMemory                  uint64
	stdout, stderr             io.Writer
	printHeap                  bool // the table shows the MemStats figures

	// extend bounds the load added while the verdict is undecided at the
	// end of duration; extended is what was added.
	extend, extended time.Duration
	// The children write exact heap profiles into profileDir every
	// profileEvery; 0: none.
	profileDir   string
	profileEvery time.Duration
	// maxSeries is the ingest receiver's route-metric series budget; 0:
	// the store's default.
	maxSeries int

	runs    []*soakRun
	reports chan taggedReport
	readers sync.WaitGroup // one goroutine per child, reading its stdout
	start0  time.Time      // when the load started
}

// start launches one child per receiver name and waits for each to say
// where it listens.
func (s *soaker) start(exe string, names []string, maxPaths int) error {
	for i, name := range names {
		cmd := exec.Command(exe, childCommand, "--receiver", name,
			"--interval", s.interval.String(), "--max-paths", strconv.Itoa(maxPaths),
			"--routes="+strconv.FormatBool(s.scenario.load.Routes),
			"--scanner="+strconv.FormatBool(s.scenario.load.Scanner != nil),
			"--max-series", strconv.Itoa(s.maxSeries), "--seed", strconv.FormatInt(s.scenario.load.Seed, 10),
			"--profile-dir", s.profileDir, "--profile-every", s.profileEvery.String())
		cmd.Stderr = s.stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting receiver %s: %w", name, err)
		}
		run := &soakRun{name: name, cmd: cmd, stdin: in}
		s.runs = append(s.runs, run)
		first := make(chan childReport, 1)
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			ch := make(chan childReport)
			go readChildReports(out, ch)
			gotAddr := false
			for rep := range ch {
				if !gotAddr {
					first <- rep
					gotAddr = true
					continue
				}
				s.reports <- taggedReport{i, rep}
			}
			if !gotAddr {
				close(first)
			}
		}()
		select {
		case rep, ok := <-first:
			if !ok || rep.Addr == "" {
				return fmt.Errorf("receiver %s did not report its address", name)
			}
			run.addr = rep.Addr
		case <-time.After(10 * time.Second):
			return fmt.Errorf("receiver %s did not start within 10s", name)
		}
	}
	return nil
}

func (s *soaker) describeRuns() string {
	var b strings.Builder
	for i, r := range s.runs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (pid %d, %s)", r.name, r.cmd.Process.Pid, r.addr)
	}
	return b.String()
}

// run sends the load to every child and records their reports until the
// load is done and the children have reported once more. The load lasts
// duration, and goes on for at most extend while the verdict that decides
// the exit status is undecided.
func (s *soaker) run(ctx context.Context, tableEvery time.Duration) (loadgen.Result, error) {
	load := s.scenario.load
	// One load for duration and all of extend, so that an extension goes
	// on without a pause and without sending a path twice; it is cut short
	// once the verdict is decided.
	load.Duration = s.duration + s.extend
	if load.Scanner != nil {
		load.Duration = 0 // the mix is the load, its own length
	}
	for _, r := range s.runs {
		load.Targets = append(load.Targets, r.addr)
	}
	type sent struct {
		res loadgen.Result
		err error
	}
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sendDone := make(chan sent, 1)
	s.start0 = time.Now()
	go func() {
		res, err := loadgen.Send(sendCtx, load, nil)
		sendDone <- sent{res, err}
	}()

	table := time.NewTicker(tableEvery)
	defer table.Stop()
	decide := time.After(s.duration)
	if load.Scanner != nil {
		decide = nil // the load ends with the mix
	}
	var result sent
	var grace <-chan time.Time // after the load, time for a last sample
	s.printTableHeader()
	for {
		select {
		case tr := <-s.reports:
			s.record(tr)
		case <-table.C:
			s.printTable()
		case <-decide:
			decide = nil
			if why := s.undecided(); why != "" && s.extended < s.extend {
				step := min(extendStep, s.extend-s.extended)
				s.extended += step
				decide = time.After(step)
				fmt.Fprintf(s.stdout, "undecided after %v: %s; going on for %v (%v of at most %v)\n",
					s.duration+s.extended-step, why, step, s.extended, s.extend)
				continue
			}
			stopSending()
		case result = <-sendDone:
			decide = nil // the load ended (or was interrupted): nothing to extend
			grace = time.After(2 * s.interval)
		case <-grace:
			s.printTable()
			return result.res, result.err
		}
	}
}

// extendStep is how often the verdict is judged again while the load goes
// on past duration.
const extendStep = 5 * time.Second

// record keeps a report and stops a child that passed --max-memory. Both
// RSS and the runtime's total count: a receiver that pins buffers it has
// barely written to grows its heap far faster than its RSS.
func (s *soaker) record(tr taggedReport) {
	run := s.runs[tr.run]
	if tr.rep.Scanner != nil {
		run.scanner = tr.rep.Scanner
	}
	if tr.rep.Sample == nil || run.stopped != "" {
		return
	}
	row := soakRow{
		elapsed: tr.rep.Sample.Time.Sub(s.start0),
		sample:  *tr.rep.Sample,
		lines:   tr.rep.Lines,
		keys:    tr.rep.Keys,
	}
	if tr.rep.PrintHeap != nil {
		row.printHeap = *tr.rep.PrintHeap
	}
	run.rows = append(run.rows, row)
	if sm := tr.rep.Sample; sm.RSS > s.maxMemory || sm.Total > s.maxMemory {
		run.stopped = fmt.Sprintf("stopped after %v: RSS %s, runtime memory %s, passed --max-memory",
			sm.Time.Sub(s.start0).Round(time.Second), mib(sm.RSS), mib(sm.Total))
		run.cmd.Process.Kill()
		fmt.Fprintf(s.stdout, "%s: %s\n", run.name, run.stopped)
	}
}

// childExitWait is how long a child may take to exit once told to: a
// receiver with a large heap on a busy machine may need a while to finish
// a scrape and exit.
const childExitWait = 15 * time.Second

// stopChildren closes each child's stdin, which tells it to stop, and
// kills any that has not exited after childExitWait.
func (s *soaker) stopChildren() {
	for _, run := range s.runs {
		run.stdin.Close()
	}
	var killed atomic.Bool
	deadline := time.AfterFunc(childExitWait, func() {
		killed.Store(true)
		for _, run := range s.runs {
			run.cmd.Process.Kill()
		}
	})
	defer deadline.Stop()
	for _, run := range s.runs {
		err := run.cmd.Wait()
		switch {
		case err == nil || run.stopped != "":
		case killed.Load() && run.cmd.ProcessState != nil && !run.cmd.ProcessState.Exited():
			fmt.Fprintf(s.stderr, "soak: receiver %s did not exit within %v of the end of the load and was killed (its samples are kept)\n",
				run.name, childExitWait)
		default:
			fmt.Fprintf(s.stderr, "soak: receiver %s: %v\n", run.name, err)
		}
	}
}

// drain records what the children wrote before they exited and waits for
// the goroutines that read their output.
func (s *soaker) drain() {
	done := make(chan struct{})
	go func() {
		s.readers.Wait()
		close(done)
	}()
	for {
		select {
		case tr := <-s.reports:
			s.record(tr)
		case <-done:
			return
		}
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
