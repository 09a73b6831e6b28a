// Package udptest provides loopback UDP sockets for the tests of the
// ingest command and its load generator.
package udptest

import (
	"net"
	"net/netip"
	"testing"
)

// readBuffer is the receive buffer Listen asks for, so that a burst from a
// test's sender is not dropped by the kernel before the reader runs.
const readBuffer = 4 << 20

// Listen opens a UDP socket on addr ("127.0.0.1:0", "[::1]:0") of network
// ("udp4" or "udp6") with a 4 MiB receive buffer and closes it when the
// test ends. Where network is udp6 and the host has no IPv6 loopback, it
// skips the test; any other error fails it.
func Listen(t testing.TB, network, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP(network, ua)
	if err != nil && network == "udp6" {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetReadBuffer(readBuffer); err != nil {
		t.Fatal(err)
	}
	return conn
}

// Receive reads datagrams from conn on its own goroutine and calls handle
// with each and its sender until conn is closed. The datagram is valid only
// during the call. When the test ends, conn is closed and the goroutine
// waited for.
func Receive(t testing.TB, conn *net.UDPConn, handle func(datagram []byte, from netip.AddrPort)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			handle(buf[:n], from)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
}

// DeadAddr returns a loopback address that nothing listens on: datagrams
// sent there are refused.
func DeadAddr(t testing.TB) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
