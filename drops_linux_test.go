package ingest

import "testing"

// TestServerKernelDropsCurrent: Stats reads the kernel's drop count of
// each socket, so a drop shows at once, not only when a later datagram
// reports it, and while serving the datagrams sent add up to Datagrams +
// DroppedKernel as soon as the reader has read what the socket holds.
func TestServerKernelDropsCurrent(t *testing.T) {
	checkLeaks(t)
	g, open := newHeldGate()
	ts := startServer(t, Config{Handler: g, ReceiveBuffer: 1}) // the kernel's minimum
	t.Cleanup(open)
	c := dial(t, ts.addr)
	send(t, c, line("/first"))
	g.waitEntered(t) // the only reader is held in the handler: it reads nothing
	const flood = 200
	if err := sendDelivered(func() {
		for range flood {
			c.Write([]byte(line("/flood")))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if st := ts.Stats(); st.DroppedKernel == 0 {
		t.Errorf("DroppedKernel = 0 after a flood into a %d-byte buffer that nothing read", st.ReceiveBuffer)
	}
	open()
	st := ts.waitStats(t, "every datagram counted", func(s Stats) bool { return s.Datagrams+s.DroppedKernel == 1+flood })
	t.Logf("read %d, kernel drops %d (receive buffer %d)", st.Datagrams, st.DroppedKernel, st.ReceiveBuffer)
	if st.Parsed != st.Datagrams {
		t.Errorf("parsed %d of %d", st.Parsed, st.Datagrams)
	}
}
