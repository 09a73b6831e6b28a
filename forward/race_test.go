//go:build race

package forward

// defaultE2ELines is the number of lines of the end-to-end tests under the
// race detector, which makes encoding about ten times slower.
const defaultE2ELines = 2_000
