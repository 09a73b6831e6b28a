// Package compare measures ingest's parser against third-party parsers and
// against the regexp and strings.Split code that daemons commonly write.
//
// It is a module of its own so that ingest's go.mod does not require the
// peers. Everything is in the tests:
//
//	go test ./...                                      # TestPeersAgree
//	go test -run xxx -bench . -benchmem -count 10 ./... # BenchmarkCompare
//
// BenchmarkCompare/<fixture>/<peer> runs each peer on the fixtures in
// ../../testdata. See peers_test.go for what each peer does and which
// fixtures it runs on. BenchmarkKeyed/<case>/<peer> compares keyed.Table
// with the map a daemon writes first and an otter cache, as per-key state
// (keyed_test.go).
package compare
