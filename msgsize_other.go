//go:build !unix && !windows

package ingest

import "errors"

// errMessageTooLong: no read reports a datagram longer than its buffer
// with an error here.
var errMessageTooLong = errors.New("ingest: message too long")
