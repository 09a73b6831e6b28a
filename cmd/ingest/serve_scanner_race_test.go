//go:build race

package main

// The flood of TestServeScanner under the race detector, which makes each
// line several times dearer: 10,000 junk paths at 5,000 a second.
const (
	scannerJunk = 10_000
	scannerRate = 5_000
)
