// Package forward ships parsed access lines to a log store or a bus:
// VictoriaLogs (JSON lines), Elasticsearch or OpenSearch (the _bulk API)
// and Kafka. A Forwarder is an ingest.Handler: a Server hands it every
// line it parses, and it encodes each Request straight from its views
// into reused batch buffers, with no allocation per line, and sends the
// batches with retries under one memory budget. Every line is counted:
// sent, retried, refused by the store, or dropped by this side with a
// reason.
//
// The Request and every slice in it are valid only until the handler
// returns: ServeLine copies what it needs into its batches (encoded) and
// retains neither the Request nor any slice in it.
//
// See docs/forward.md for the design, the fault semantics and sizing.
package forward
