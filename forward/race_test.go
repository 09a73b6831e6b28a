//go:build race

package forward

// raceEnabled: the race detector makes encoding ~10 times slower, so the
// end-to-end tests send a tenth of the lines.
const raceEnabled = true
