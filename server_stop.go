package ingest

// How a Server stops: Shutdown and Close, the sockets' intake closed,
// the readers woken and the sockets drained, and the faults on the way,
// each counted in Stats.StopErrors.

import (
	"context"
	"errors"
	"net"
	"time"
)

// errNoIntakeControl: closeIntake cannot act on this socket (no file
// descriptor, or not Linux).
var errNoIntakeControl = errors.New("ingest: the socket's intake cannot be closed here")

// drainTimeout bounds a stop. A drain of a socket whose intake stayed open
// handles what it reads for this long after the Server began stopping; and
// when the context given to Serve is done, the Server stops as Shutdown
// does with a context this long.
const drainTimeout = 5 * time.Second

// What can go wrong while a Server stops; each is counted in
// Stats.StopErrors, and the first of each kind is logged.
type stopFault uint8

const (
	faultIntake        stopFault = iota // the intake could not be closed
	faultLeave                          // a socket could not leave its SO_REUSEPORT group
	faultWake                           // a read deadline could not wake the readers
	faultDrainRead                      // a drain's read failed
	faultDrainDeadline                  // a drain of an open intake reached its deadline
	faultUnread                         // a socket closed with datagrams queued
	numStopFaults
)

// stopFault counts a fault of kind k and logs the first of its kind.
func (s *Server) stopFault(k stopFault, msg string, args ...any) {
	s.stopErrors.Add(1)
	if s.stopLogged[k].CompareAndSwap(false, true) {
		s.log.Warn(msg, append(args, "logged", "once per Server")...)
	}
}

// Shutdown stops taking datagrams, delivers the ones already received, and
// returns when every goroutine has returned, or with ctx.Err() when ctx is
// done first.
//
// Delivered are the datagrams the readers hold, the ones in the queue, and
// on Linux the ones the kernel has queued on the sockets: from the moment
// Shutdown is called the sockets refuse new datagrams (counted in
// Stats.DroppedKernel) and the readers read what they hold without
// waiting. Elsewhere the sockets' queues are not read. When ctx is done
// first, what is not yet delivered is counted in Stats.DroppedClosed, as
// Close does, while the goroutines finish. Shutdown closes the sockets.
//
// A socket in an SO_REUSEPORT group that also holds sockets of other
// Servers or processes (a new instance taking over the port) leaves the
// group instead of refusing: the kernel gives its share of the datagrams
// to the others from then on. When the socket's intake cannot be closed
// (the socket's owner locked its filter with SO_LOCK_FILTER), datagrams go
// on arriving: its readers handle what they read for 5 s, then count what
// the socket holds in Stats.DroppedClosed, and what arrives after that is
// lost when the socket closes. Each such fault is logged once and counted
// in Stats.StopErrors.
func (s *Server) Shutdown(ctx context.Context) error {
	done := s.stop(false)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.stop(true)
		return ctx.Err()
	}
}

// Close stops taking datagrams, discards what is received but not yet
// handled (counted in Stats.DroppedClosed), closes the sockets, and returns
// when every goroutine has returned. On Linux the datagrams the kernel has
// queued on the sockets are read and counted as discarded too, and those
// arriving from then on are refused (counted in Stats.DroppedKernel), so
// that every datagram sent is counted. It does not interrupt a handler call
// in progress: it waits for it. Calling Close more than once, or after
// Shutdown, is safe.
func (s *Server) Close() error {
	<-s.stop(true)
	return nil
}

// stop starts stopping the Server, once, and returns the channel closed
// when it has stopped.
func (s *Server) stop(discard bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if discard && !s.discarding.Load() {
		s.discarding.Store(true)
		close(s.discard)
	}
	switch s.state {
	case stateIdle:
		s.state = stateClosed
		close(s.stopCh)
		close(s.done)
	case stateServing:
		s.state = stateStopping
		s.drainBy.Store(s.now() + int64(s.grace))
		conns := make([]net.PacketConn, len(s.socks))
		for i, so := range s.socks {
			conns[i] = so.conn
		}
		for _, so := range s.socks {
			s.closeIntakeLocked(so, conns)
		}
		close(s.stopCh)
		for _, so := range s.socks {
			// A read deadline in the past wakes the readers and keeps the
			// socket's queue for them to drain; serve closes the socket.
			if err := so.conn.SetReadDeadline(time.Now()); err != nil && !errors.Is(err, net.ErrClosed) {
				so.unwoken = true
				s.stopFault(faultWake, "ingest: cannot wake the readers with a read deadline; the socket is closed once its queue is read",
					"addr", so.conn.LocalAddr().String(), "err", err)
			}
		}
	}
	return s.done
}

// closeIntakeLocked makes so refuse datagrams from now on, or where
// another socket shares its SO_REUSEPORT group, leave the group so that
// the kernel gives that socket what it would have given this one. s.mu is
// held; ours are the Server's sockets.
func (s *Server) closeIntakeLocked(so *socket, ours []net.PacketConn) {
	addr := so.conn.LocalAddr().String()
	left, err := leaveGroup(so.conn, ours)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.stopFault(faultLeave, "ingest: cannot take a stopping socket out of its SO_REUSEPORT group; it refuses its share of the datagrams until it closes (counted in dropped_kernel)",
			"addr", addr, "err", err)
	}
	if left && s.leftLogged.CompareAndSwap(false, true) {
		s.log.Info("ingest: stopping sockets leave their SO_REUSEPORT group: the group's other sockets take their share", "addr", addr)
	}
	err = closeIntake(so.conn)
	so.intakeClosed = left || err == nil
	if err != nil && !left && !errors.Is(err, errNoIntakeControl) && !errors.Is(err, net.ErrClosed) {
		s.stopFault(faultIntake, "ingest: cannot close a stopping socket's intake: the datagrams that arrive until it closes are not refused, so not counted in dropped_kernel; it is drained for at most "+drainTimeout.String(),
			"addr", addr, "err", err)
	}
}

// closeUnwoken closes the sockets whose readers no read deadline could
// wake, once their queues are read: a closed socket wakes them.
func (s *Server) closeUnwoken() {
	s.mu.Lock()
	var unwoken []*socket
	for _, so := range s.socks {
		if so.unwoken {
			unwoken = append(unwoken, so)
		}
	}
	s.mu.Unlock()
	for _, so := range unwoken {
		// The readers read while the queue holds datagrams, and then wait.
		// With the intake open, the queue may never empty: wait no longer
		// than a drain does.
		for {
			q, ok := socketQueued(so.conn)
			if !ok || q == 0 || !so.intakeClosed && s.now() >= s.drainBy.Load() {
				break
			}
			time.Sleep(time.Millisecond)
		}
		so.conn.Close()
	}
}

// fail stops the Server because a reader cannot go on.
func (s *Server) fail(err error) {
	s.mu.Lock()
	if s.failErr == nil && s.state == stateServing {
		s.failErr = err
	}
	s.mu.Unlock()
	s.stop(false)
}

// served ends Serve, ServeListener or ListenAndServe once every goroutine
// has returned: it marks the Server done and returns err (the context's),
// else the failure that stopped it, else ErrServerClosed.
func (s *Server) served(err error) error {
	s.mu.Lock()
	if err == nil {
		err = s.failErr
	}
	s.mu.Unlock()
	if err == nil {
		err = ErrServerClosed
	}
	close(s.done)
	return err
}

// awaitStop waits until the Server is stopping: by Shutdown or Close, by a
// reader that cannot go on, or because ctx is done. In the last case it
// begins stopping as Shutdown does with a context that ends s.grace from
// now: past that, what is not yet delivered is discarded as Close does;
// it then returns ctx.Err(). The function it returns cancels that
// deadline: call it once the goroutines have returned.
func (s *Server) awaitStop(ctx context.Context) (endGrace func(), err error) {
	select {
	case <-ctx.Done():
		s.stop(false)
		grace := time.AfterFunc(s.grace, func() { s.stop(true) })
		return func() { grace.Stop() }, ctx.Err()
	case <-s.stopCh:
		return func() {}, nil
	}
}

func (s *Server) stopping() bool {
	select {
	case <-s.stopCh:
		return true
	default:
		return false
	}
}

// drain reads what the socket still holds once the Server is stopping and
// handles it like any other datagram: delivered after Shutdown, counted in
// DroppedClosed after Close. It runs where the reader can read without
// waiting (Linux). When stop closed the socket's intake, the queue it
// empties cannot grow, and it ends when the queue is empty. When the intake
// stayed open, datagrams go on arriving: from drainTimeout after the
// Server began stopping, it counts what it reads in DroppedClosed without
// handling it, and ends once it has read as many datagrams as the
// socket's buffer can hold, that is, everything queued by then. A read
// error ends it too: counted in ReadErrors and Stats.StopErrors, and
// logged.
func (r *reader) drain(t *tally) {
	d, ok := r.br.(drainer)
	if !ok {
		return
	}
	s := r.s
	left := -1 // past the deadline: datagrams still to read
	for left != 0 {
		if left < 0 && !r.sock.intakeClosed && s.now() >= s.drainBy.Load() {
			left = r.sock.capacity()
			s.stopFault(faultDrainDeadline, "ingest: a socket whose intake stayed open was drained for "+s.grace.String()+
				"; what it held then is counted as discarded (dropped_closed), and what arrives until it closes is lost unseen",
				"addr", r.sock.conn.LocalAddr().String())
		}
		n, err := d.readNow()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.c.readErrors.Add(1)
				s.stopFault(faultDrainRead, "ingest: read failed while draining a socket at stop; what it holds is left unread",
					"addr", r.sock.conn.LocalAddr().String(), "err", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if left < 0 {
			r.handle(n, t)
		} else {
			r.discard(n, t)
			left = max(left-n, 0)
		}
		r.c.publish(t)
	}
}

// discard counts the n datagrams of the last read as read and discarded
// (DroppedClosed), without looking at them.
func (r *reader) discard(n int, t *tally) {
	for i := range n {
		_, _, size, _ := r.br.datagram(i)
		t.datagrams++
		t.bytes += uint64(size)
		t.droppedClosed++
	}
}
