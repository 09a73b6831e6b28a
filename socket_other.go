//go:build !linux

package ingest

import "net"

// reusePortSupported: without a load-balancing SO_REUSEPORT, Config.ReusePort
// is ignored and the readers share one socket.
const reusePortSupported = false

// truncatedLengthKnown: the portable read cannot see past its buffer, so a
// truncated datagram counts MaxDatagram+1 bytes in Stats.Bytes.
const truncatedLengthKnown = false

func listenConfig(bool) net.ListenConfig { return net.ListenConfig{} }

// setReceiveBuffer asks for a receive buffer of size bytes. The size the
// kernel granted is not read back here: it returns 0, "unknown".
func setReceiveBuffer(conn net.PacketConn, size int) (int, error) {
	if rb, ok := conn.(interface{ SetReadBuffer(int) error }); ok {
		return 0, rb.SetReadBuffer(size)
	}
	return 0, nil
}

// receiveBuffer returns 0, "unknown".
func receiveBuffer(net.PacketConn) (int, error) { return 0, nil }

// enableDropCount does nothing: SO_RXQ_OVFL is Linux's.
func enableDropCount(net.PacketConn) error { return nil }

// newBatchReader returns the portable reader: one datagram per read.
func newBatchReader(conn net.PacketConn, _ *dropCounter, maxDatagram, _ int) batchReader {
	return newPortableReader(conn, maxDatagram)
}

// closeIntake cannot stop a socket's intake here: reading stops with the
// socket's queue unread.
func closeIntake(net.PacketConn) error { return errNoIntakeControl }

// leaveGroup: SO_REUSEPORT groups are Linux's.
func leaveGroup(net.PacketConn, []net.PacketConn) (bool, error) { return false, nil }

// socketDrops: the kernel's drop count is not read here.
func socketDrops(net.PacketConn) (uint32, bool) { return 0, false }

// socketQueued: what a socket holds is not read here.
func socketQueued(net.PacketConn) (int, bool) { return 0, false }
