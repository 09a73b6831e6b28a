//go:build !linux

package loadgen

import "net"

// newSender returns the portable sender: one write per datagram.
func newSender(conn *net.UDPConn, _ int) (datagramSender, error) {
	return &writeSender{conn: conn}, nil
}
