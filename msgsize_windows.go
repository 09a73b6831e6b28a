package ingest

import "golang.org/x/sys/windows"

// errMessageTooLong is the error of a read whose buffer was too short for
// the datagram: Windows reports it (WSAEMSGSIZE) where Unix systems cut
// the datagram short without an error.
var errMessageTooLong error = windows.WSAEMSGSIZE
