//go:build race

package main

// memoryFactor scales the memory bounds the tests check: the race
// detector's shadow memory and bookkeeping take several times the
// program's own.
const memoryFactor = 4
