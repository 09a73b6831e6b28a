//go:build !unix

package ingest

import (
	"context"
	"errors"
)

// listenAndServeUnix: unix datagram sockets exist on unix systems only.
func (s *Server) listenAndServeUnix(context.Context) error {
	return errors.New("ingest: unix datagram sockets are not supported on this system")
}
