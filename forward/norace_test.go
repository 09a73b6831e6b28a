//go:build !race

package forward

// defaultE2ELines is the number of lines of the end-to-end tests.
const defaultE2ELines = 10_000
