package ingest

import (
	"net"
	"sync/atomic"
)

// The counting of TCP and TLS connections and their frames, and what the
// transport adds to Stats.

// streamTally is the counting of frames a connection does while it handles
// one read, beside its tally of lines.
type streamTally struct {
	frames, tooLong, cut, badCount uint64
}

// streamCounters are the published frame counts of one connection.
type streamCounters struct {
	frames, tooLong, cut, badCount atomic.Uint64
}

func (c *streamCounters) publish(t *streamTally) {
	for _, p := range [...]struct {
		a *atomic.Uint64
		n uint64
	}{{&c.frames, t.frames}, {&c.tooLong, t.tooLong}, {&c.cut, t.cut}, {&c.badCount, t.badCount}} {
		if p.n != 0 {
			p.a.Add(p.n)
		}
	}
}

func (c *streamCounters) load(t *streamTally) {
	t.frames, t.tooLong, t.cut, t.badCount = c.frames.Load(), c.tooLong.Load(), c.cut.Load(), c.badCount.Load()
}

func (t *streamTally) addTo(s *Stats) {
	s.Frames += t.frames
	s.FramesTooLong += t.tooLong
	s.FramesCut += t.cut
	s.FramingErrors += t.badCount
}

// addTransportStats adds what is particular to the transport to st. s.mu
// is held.
func (s *Server) addTransportStats(st *Stats) {
	st.Transport = s.tr.String()
	for _, so := range s.socks {
		if _, ok := so.conn.(*net.UnixConn); ok {
			st.Transport = transportUnix.String()
		} else if st.Transport == transportUnix.String() {
			st.Transport = transportUDP.String()
		}
	}
	if s.tls != nil {
		st.TLSCertReloads = s.tls.reloads.Load()
		st.TLSCertErrors = s.tls.errs.Load()
	}
	ss := s.stream
	if ss == nil {
		return
	}
	if ss.tlsConf != nil {
		st.Transport = transportTLS.String()
	} else {
		st.Transport = transportTCP.String()
	}
	ss.retired.addTo(st)
	for c := range ss.conns {
		c.c.addTo(st)
	}
	st.Connections = len(ss.conns)
	st.ConnectionsOpened = ss.opened.Load()
	st.ConnectionsClosed = ss.closed.Load()
	st.ConnectionsRefused = ss.refused.Load()
	st.ConnectionsIdle = ss.idle.Load()
	st.TLSHandshakeErrors = ss.handshakeErrs.Load()
	st.DroppedSource += ss.deniedSource.Load()
	st.ReadErrors += ss.acceptErrs.Load()
	st.BytesUnread = ss.unread.Load()
	st.ReadBufferBytes = len(ss.conns) * ss.bufSize
}
