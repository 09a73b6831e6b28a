//go:build !race

package main

// The flood of TestServeScanner: 40,000 junk paths at 20,000 a second.
const (
	scannerJunk = 40_000
	scannerRate = 20_000
)
