package loadgen

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// loadTarget is one receiver: connected UDP sockets from one or more
// source ports, each with its sender, taking turns batch by batch.
type loadTarget struct {
	addr    string
	srcs    []loadSource // at least one
	next    int          // the source of the next batch
	failed  []bool       // per datagram of the batch being sent
	offered TargetResult
}

// loadSource is one socket of a target.
type loadSource struct {
	conn   *net.UDPConn
	sender datagramSender
}

// datagramSender sends batches of datagrams on a connected socket.
type datagramSender interface {
	// send sends dgs in order. It returns how many it handed to the
	// kernel, accepted or refused, and sets failed[i] for each dgs[i] the
	// kernel refused with a counted error (see countedErrno). An error
	// ends the batch: a deadline, or a socket error not counted.
	send(dgs [][]byte, failed []bool) (int, error)
	// calls returns the number of send system calls made so far.
	calls() int64
}

// dialTarget opens sources sockets connected to addr, each from a port of
// its own.
func dialTarget(addr string, batch, sources int) (*loadTarget, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	t := &loadTarget{addr: addr, failed: make([]bool, batch)}
	for range sources {
		conn, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			t.close()
			return nil, err
		}
		s, err := newSender(conn, batch)
		if err != nil {
			conn.Close()
			t.close()
			return nil, err
		}
		t.srcs = append(t.srcs, loadSource{conn, s})
	}
	return t, nil
}

func (t *loadTarget) close() {
	for _, s := range t.srcs {
		s.conn.Close()
	}
}

// setWriteDeadline sets the write deadline of every socket of t.
func (t *loadTarget) setWriteDeadline(d time.Time) {
	for _, s := range t.srcs {
		s.conn.SetWriteDeadline(d)
	}
}

// calls returns the send system calls made on every socket of t.
func (t *loadTarget) calls() int64 {
	var n int64
	for _, s := range t.srcs {
		n += s.sender.calls()
	}
	return n
}

// send sends the batch and adds it to tr (accepted) and t.offered.
func (t *loadTarget) send(b *loadBatch, tr *TargetResult) error {
	failed := t.failed[:b.n]
	clear(failed)
	src := t.srcs[t.next]
	if t.next++; t.next == len(t.srcs) {
		t.next = 0
	}
	done, err := src.sender.send(b.dgs[:b.n], failed)
	for i := range done {
		lines, size := int64(b.lines[i]), int64(len(b.dgs[i]))
		t.offered.Lines += lines
		t.offered.Datagrams++
		t.offered.Bytes += size
		if failed[i] {
			tr.SendErrors++
			continue
		}
		tr.Lines += lines
		tr.Datagrams++
		tr.Bytes += size
	}
	return err
}

// countedErrnos are the send errors that are counted, not fatal: the
// datagram is lost and the next one is sent. ECONNREFUSED is the pending
// ICMP "port unreachable" of an earlier datagram to a target with no
// listener.
var countedErrnos = [...]syscall.Errno{
	syscall.ECONNREFUSED, syscall.ENOBUFS, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
}

func countedErrno(e syscall.Errno) bool {
	for _, c := range countedErrnos {
		if e == c {
			return true
		}
	}
	return false
}

func countedError(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e) && countedErrno(e)
}

// writeSender sends one datagram per write: the portable path, and Batch 1.
type writeSender struct {
	conn *net.UDPConn
	n    int64
}

func (w *writeSender) send(dgs [][]byte, failed []bool) (int, error) {
	for i, d := range dgs {
		_, err := w.conn.Write(d)
		if err != nil && !countedError(err) {
			return i, err
		}
		w.n++
		failed[i] = err != nil
	}
	return len(dgs), nil
}

func (w *writeSender) calls() int64 { return w.n }

// loadBatch holds the datagrams of one batch in one buffer allocated once:
// slot bytes per datagram, datagrams as capped views of their slots.
type loadBatch struct {
	lpd   int // lines per datagram, at most
	slot  int
	arena []byte
	dgs   [][]byte
	lines []int // lines in each datagram
	n     int   // datagrams in the batch
}

func newLoadBatch(c Config, maxLine int) *loadBatch {
	slot := min(MaxDatagramPayload, c.LinesPerDatagram*(maxLine+1))
	return &loadBatch{
		lpd:   c.LinesPerDatagram,
		slot:  slot,
		arena: make([]byte, c.Batch*slot),
		dgs:   make([][]byte, c.Batch),
		lines: make([]int, c.Batch),
	}
}

// fill generates up to want lines into the batch and returns how many it
// generated. A datagram gets lpd lines, or fewer when one more line of the
// longest possible length might not fit in its slot. With a scanner mix,
// only the lines due by limit on the mix's clock are generated (a
// negative limit: no bound).
func (b *loadBatch) fill(g *LineGen, want int, now time.Time, limit time.Duration) int {
	b.n = 0
	lines := 0
	for lines < want && b.n < len(b.dgs) && g.due(limit) {
		off := b.n * b.slot
		dg := b.arena[off : off : off+b.slot]
		k := 0
		for k < b.lpd && lines < want && g.due(limit) {
			if k > 0 {
				if len(dg)+1+g.maxLine > b.slot {
					break
				}
				dg = append(dg, '\n')
			}
			dg = g.AppendLine(dg, now)
			k++
			lines++
		}
		b.dgs[b.n], b.lines[b.n] = dg, k
		b.n++
	}
	return lines
}
