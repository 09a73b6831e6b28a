//go:build !linux

package ingest

import "net"

// detach returns conns: Config.BatchDelay is Linux's.
func (s *Server) detach(conns []net.PacketConn) []net.PacketConn { return conns }
