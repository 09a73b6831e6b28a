// Package ingest receives HTTP access-log lines over UDP, parses them without
// copying into reusable Requests, and hands them to your code, while the
// process heap stays flat whatever the input looks like.
//
// # Data flow
//
// A Server reads datagrams from one or more UDP sockets. Each reader
// goroutine owns fixed receive buffers of Config.MaxDatagram+1 bytes (the
// extra byte detects truncation) and reads with recvmmsg batches on Linux,
// one datagram per read elsewhere. A datagram holds one line or several
// separated by "\n" (or "\r\n"); each line may carry an RFC 3164 or RFC 5424
// syslog header, detected per line, and is parsed in place into a Request
// whose fields are views into the receive buffer. The Request goes to the
// Handler, on the reader goroutine by default, or on a worker goroutine
// after a bounded queue when Config.QueueLength is set.
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
// datagrams, each in a pooled buffer sized to the datagram. The Server keeps
// no state per source address, per path or per line.
//
// # Counting
//
// Nothing is dropped silently. Stats counts datagrams, lines, parse errors
// by reason, truncated datagrams, drops by cause (full queue, full kernel
// buffer, source not allowed, Close) and handler panics. The counters are
// per goroutine, on their own cache lines, and published with atomic adds
// once per batch of datagrams, not once per datagram.
package ingest
