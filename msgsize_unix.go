//go:build unix

package ingest

import "syscall"

// errMessageTooLong is the error of a read whose buffer was too short for
// the datagram. Unix systems cut the datagram short without an error; a
// net.PacketConn of another kind may report EMSGSIZE, as Windows does
// with its own code.
var errMessageTooLong error = syscall.EMSGSIZE
