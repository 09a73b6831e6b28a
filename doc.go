// Package ingest receives HTTP access-log lines over UDP, unix datagram
// sockets, TCP or TLS, parses them without copying into reusable Requests,
// and hands them to your code, while the process heap stays flat whatever
// the input looks like. Package tail feeds lines from files to the same
// parser and Handler.
//
// # Data flow
//
// A Server serves one address, Config.Addr: "host:port" for UDP,
// "unix:/path" for a unix datagram socket, "tcp://host:port" or
// "tls://host:port" for syslog over TCP or TLS. Several addresses are
// several Servers sharing one Handler; docs/transports.md says which to
// pick.
//
// For datagrams (UDP, unix), a Server reads one or more sockets. Each reader
// goroutine owns fixed receive buffers of Config.MaxDatagram+1 bytes (the
// extra byte detects truncation) and reads with recvmmsg batches on Linux,
// one datagram per read elsewhere. A datagram holds one line or several
// separated by "\n" (or "\r\n"); each line may carry an RFC 3164 or RFC 5424
// syslog header, detected per line, and is parsed in place into a Request
// whose fields are views into the receive buffer. The Request goes to the
// Handler, on the reader goroutine by default, or on a worker goroutine
// after a bounded queue when Config.QueueLength is set.
//
// For TCP and TLS, each connection is read by a goroutine of its own into a
// fixed buffer of Config.MaxFrame+16 bytes, split into RFC 6587 frames
// (octet counting or LF framing, detected per frame), and each frame goes
// through the same line framing, parsing and Handler as a datagram, on that
// goroutine. At most Config.MaxConnections connections are served at once.
//
// # Use
//
//	srv, err := ingest.NewServer(ingest.Config{
//		Addr: ":5514",
//		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
//			statusCounts[r.Status/100].Add(1) // []atomic.Uint64 of length 10
//		}),
//	})
//	if err != nil {
//		return err
//	}
//	go func() { <-stop; srv.Shutdown(context.Background()) }()
//	err = srv.ListenAndServe(ctx) // ErrServerClosed after Shutdown
//
// # Ownership
//
// The Request and every slice in it are valid only until the handler
// returns. Do not retain them; use Interner.Intern or Request.Clone for
// values that must outlive the call. The same holds for the line given to
// Config.OnBadLine: it is valid only during the callback.
//
// # Bounds
//
// Every size is fixed by the Config: a reader holds Config.BatchSize
// buffers of Config.MaxDatagram+1 bytes (1 MiB per reader with the defaults
// on Linux, 64 KiB elsewhere); the queue holds at most Config.QueueLength
// datagrams, each in a pooled buffer sized to the datagram; a TCP or TLS
// connection holds one buffer of Config.MaxFrame+16 bytes, and there are at
// most Config.MaxConnections of them. The Server keeps no state per source
// address, per path or per line.
//
// # Counting
//
// Nothing is dropped silently. Stats counts datagrams, lines, parse errors
// by reason, truncated datagrams, drops by cause (full queue, full kernel
// buffer, source not allowed, Close) and handler panics; for TCP and TLS
// also connections opened, closed and refused, frames, frames too long or
// cut, failed handshakes and certificate reloads. The counters are
// per goroutine, on their own cache lines, and published with atomic adds
// once per batch of datagrams, not once per datagram.
package ingest
