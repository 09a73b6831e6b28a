//go:build !race

package main

// memoryFactor scales the memory bounds the tests check: 1 without the
// race detector.
const memoryFactor = 1
