// Package tail reads access logs from files as a web server writes them, and
// feeds their lines to the same ingest.Parser and ingest.Handler as the UDP
// ingest.Server, with the same accounting and the same ownership rules.
//
// A Tailer follows a set of files given by name or glob pattern
// (/var/log/nginx/*access.log), picks up new files that match, and keeps
// reading through rotation of both kinds: rename-and-create (logrotate's
// default, then nginx -s reopen or USR1), where the old file is read to its
// end while the new one is followed, and copytruncate, where the truncation
// is detected, the lines the Tailer had not read yet are read from the copy,
// and the file is read again from its start. A file is known by its device,
// inode and a fingerprint of its first bytes, so that a recycled inode is
// not taken for a file read before.
//
// With a state directory, the Tailer writes a checkpoint (the offset after
// the last line handed over, per file) every second and when it stops, and
// resumes there when it starts again: after a clean stop no line is lost or
// read twice; after a crash, at most the lines read in the last checkpoint
// interval are read again. See docs/tail.md for the guarantees and limits.
//
// The Tailer reads on one goroutine, into one fixed read buffer that it
// reuses: a line is a view into that buffer, valid during the handler call,
// and reading, framing, parsing and the handler call allocate nothing per
// line. Lines longer than ingest.MaxLineLength are counted and skipped
// without being held in memory. It waits for changes with inotify on Linux
// and by polling elsewhere, or when asked to (NFS).
package tail
